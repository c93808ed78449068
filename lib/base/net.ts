/** IPv4 addresses and MetalLB pool entries. */

function ipToNumber(ip: string): number | undefined {
  const parts = ip.trim().split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

/** Whether a pool entry (a.b.c.d/nn or a.b.c.d-e.f.g.h) holds `ip`. */
export function poolEntryContains(entry: string, ip: string): boolean {
  const target = ipToNumber(ip)
  if (target === undefined) return false
  if (entry.includes('-')) {
    const [from, to] = entry.split('-').map(ipToNumber)
    return from !== undefined && to !== undefined && from <= target && target <= to
  }
  const [base, bitsText] = entry.split('/')
  const start = ipToNumber(base)
  const bits = bitsText === undefined ? 32 : Number(bitsText)
  if (start === undefined || !(bits >= 0 && bits <= 32)) return false
  const size = 2 ** (32 - bits)
  const network = Math.floor(start / size) * size
  return network <= target && target < network + size
}
