/**
 * The admin hosts as records for the LAN's own DNS server, ready to paste: every admin host
 * resolves to INTERNAL_IP. The names are validated DNS names and the address a dotted quad
 * (lib/config/rules.ts), so nothing here needs quoting beyond what each format asks for.
 */

export const DNS_FORMATS = ['hosts', 'dnsmasq', 'adguard', 'unbound'] as const
export type DnsFormat = (typeof DNS_FORMATS)[number]

/** What each format is for and where it goes, for the report. */
export const DNS_FORMAT_PLACES: Record<DnsFormat, { name: string; where: string }> = {
  hosts: { name: 'a hosts file', where: "/etc/hosts on each machine you administer from; Pi-hole's Local DNS Records take the same address and names" },
  dnsmasq: { name: 'dnsmasq', where: 'a file in /etc/dnsmasq.d/; Pi-hole v6: Settings > All settings > Miscellaneous > misc.dnsmasq_lines' },
  adguard: { name: 'AdGuard Home', where: 'the list under filtering: rewrites: in AdGuardHome.yaml, or Filters > DNS rewrites > Add DNS rewrite, one per host' },
  unbound: { name: 'Unbound', where: 'unbound.conf, or a file in /etc/unbound/unbound.conf.d/' },
}

/** The records for `hosts` at `ip`, in one format, one line each, ending with a newline. */
export function dnsRecords(format: DnsFormat, ip: string, hosts: string[]): string {
  const lines = ((): string[] => {
    switch (format) {
      case 'hosts':
        return [`${ip} ${hosts.join(' ')}`]
      case 'dnsmasq':
        // host-record, not address=/host/ip: exactly these names (address= answers every subdomain
        // too). Alone, either forwards the AAAA question upstream, which answers for a name it does
        // not know with NXDOMAIN; local= keeps every question about the name here (AAAA: no data).
        return hosts.flatMap((h) => [`host-record=${h},${ip}`, `local=/${h}/`])
      case 'adguard':
        // `enabled` since AdGuard Home v0.107.68 (schema 31), where a rewrite without it is off;
        // older versions ignore the key.
        return hosts.flatMap((h) => [`- domain: ${h}`, `  answer: ${ip}`, '  enabled: true'])
      case 'unbound':
        // A local-data name outside any local-zone gets a transparent zone of its own: the name is
        // answered here (no data for AAAA), every other name is resolved as before.
        return ['server:', ...hosts.map((h) => `  local-data: "${h}. IN A ${ip}"`)]
    }
  })()
  return lines.join('\n') + '\n'
}
