/**
 * IP addresses, CIDRs and MetalLB pool entries: the one place the kit reads them, with node:net
 * (its parser refuses what Go's, and so Kubernetes', MetalLB's and Traefik's, refuse: leading zeros,
 * octets over 255).
 */
import net from 'node:net'

type Family = 'ipv4' | 'ipv6'

function familyOf(address: string): Family | undefined {
  return net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined
}

/** An IPv4 address in dotted-quad form (four numbers 0-255, no leading zeros). */
export function isIPv4(text: string): boolean {
  return net.isIPv4(text)
}

/** An IPv4 or IPv6 address (no brackets, no port). */
export function isIpAddress(text: string): boolean {
  return net.isIP(text) !== 0
}

// Not unicast: "this network" 0/8, multicast 224/4 and reserved 240/4 (255.255.255.255 included).
const NOT_UNICAST = new net.BlockList()
NOT_UNICAST.addSubnet('0.0.0.0', 8, 'ipv4')
NOT_UNICAST.addSubnet('224.0.0.0', 3, 'ipv4')

/** An IPv4 address a host or a LoadBalancer can hold. */
export function isUnicastIPv4(address: string): boolean {
  return net.isIPv4(address) && !NOT_UNICAST.check(address, 'ipv4')
}

export type Cidr = { address: string; prefix: number; family: Family }

/** `address/prefix`, IPv4 (prefix 0-32) or IPv6 (0-128); undefined for anything else. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.lastIndexOf('/')
  if (slash < 0) return undefined
  const address = text.slice(0, slash)
  const prefixText = text.slice(slash + 1)
  const family = familyOf(address)
  if (!family || !/^\d{1,3}$/.test(prefixText)) return undefined
  const prefix = Number(prefixText)
  return prefix <= (family === 'ipv4' ? 32 : 128) ? { address, prefix, family } : undefined
}

/**
 * Whether a MetalLB pool entry holds `ip`: a CIDR (`a.b.c.d/nn`, a host address meaning its
 * network), a bare address, or a range `from-to` (ends included, spaces around `-` allowed, as
 * MetalLB reads it). Entries of the other family, and garbage, hold nothing.
 */
export function poolEntryContains(entry: string, ip: string): boolean {
  const family = familyOf(ip)
  if (!family) return false
  const list = new net.BlockList()
  const range = entry.split('-').map((s) => s.trim())
  if (range.length === 2) {
    if (familyOf(range[0]) !== family || familyOf(range[1]) !== family) return false
    try {
      list.addRange(range[0], range[1], family)
    } catch {
      return false // from after to
    }
  } else {
    const text = entry.trim()
    const cidr = text.includes('/') ? parseCidr(text) : familyOf(text) && { address: text, prefix: family === 'ipv4' ? 32 : 128, family: familyOf(text)! }
    if (!cidr || cidr.family !== family) return false
    list.addSubnet(cidr.address, cidr.prefix, family)
  }
  return list.check(ip, family)
}
