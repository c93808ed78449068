/** Rules for single values: each returns what is wrong (to follow the quoted value), or undefined. */
import leven from 'leven'
import { isIPv4, isUnicastIPv4 } from '../base/net.ts'

export function ipv4Problem(value: string): string | undefined {
  if (!isIPv4(value)) return 'is not an IPv4 address (four numbers 0-255, no leading zeros, e.g. 192.168.0.200)'
  if (!isUnicastIPv4(value)) return 'is not a unicast address a LoadBalancer can use (pick a free LAN address outside the DHCP range)'
  return undefined
}

export function dnsLabelProblem(value: string): string | undefined {
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)
    ? undefined
    : 'is not a DNS label (lowercase letters, digits and -, at most 63, starting and ending with a letter or digit)'
}

export function dnsNameProblem(value: string): string | undefined {
  if (value.length > 253 || !value.split('.').every((label) => dnsLabelProblem(label) === undefined)) {
    return 'is not a DNS name (dot-separated lowercase labels of letters, digits and -, e.g. home.example.com)'
  }
  return undefined
}

export function emailProblem(value: string): string | undefined {
  const m = /^([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([^@]+)$/.exec(value)
  if (!m || m[1].startsWith('.') || m[1].endsWith('.') || m[1].includes('..')) {
    return 'is not an email address (name@example.com)'
  }
  if (dnsNameProblem(m[2].toLowerCase()) !== undefined || !m[2].includes('.')) {
    return 'is not an email address: the part after @ must be a domain such as example.com'
  }
  return undefined
}

export function portProblem(value: string): string | undefined {
  return /^[1-9]\d{0,4}$/.test(value) && Number(value) <= 65535 ? undefined : 'is not a port (1-65535)'
}

export function urlProblem(value: string): string | undefined {
  try {
    const url = new URL(value)
    if (url.username || url.password) return 'must not carry credentials'
    return undefined
  } catch {
    return 'is not a URL'
  }
}

/** "; did you mean X?" when a known word is a small edit away (Levenshtein distance, case ignored). */
export function didYouMean(value: string, known: string[]): string {
  let best = ''
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = leven(value.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const allowed = Math.max(2, Math.floor(best.length / 3))
  return bestDistance > 0 && bestDistance <= allowed ? `; did you mean ${best}?` : ''
}
