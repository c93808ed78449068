/**
 * The admin hosts as DNS records (lib/render/dns.ts), in each format 04-verify prints. The
 * expected text is written out here; test/integration/dns-servers.test.ts loads the dnsmasq and
 * Unbound records into the real servers and asks them.
 */
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { loadConfig } from '../lib/config/load.ts'
import { dnsRecords } from '../lib/render/dns.ts'
import { adminHosts, hostsFileLine } from '../lib/render/render.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const HOSTS = ['traefik.home.example.com', 'argocd.home.example.com']
const IP = '192.168.0.200'

const records = suite('DNS records for the admin hosts')

records('hosts: one line, the address then every host', () => {
  assert.is(dnsRecords('hosts', IP, HOSTS), '192.168.0.200 traefik.home.example.com argocd.home.example.com\n')
})

records('dnsmasq: host-record for exactly each name, and local= so nothing about it goes upstream', () => {
  assert.is(
    dnsRecords('dnsmasq', IP, HOSTS),
    [
      'host-record=traefik.home.example.com,192.168.0.200',
      'local=/traefik.home.example.com/',
      'host-record=argocd.home.example.com,192.168.0.200',
      'local=/argocd.home.example.com/',
      '',
    ].join('\n'),
  )
})

records('AdGuard Home: the list for filtering.rewrites, each rewrite enabled', () => {
  const text = dnsRecords('adguard', IP, HOSTS)
  assert.equal(YAML.parse(text), [
    { domain: 'traefik.home.example.com', answer: '192.168.0.200', enabled: true },
    { domain: 'argocd.home.example.com', answer: '192.168.0.200', enabled: true },
  ])
  // pasted under `rewrites:` in AdGuardHome.yaml, or merged with yq, it is the same list
  assert.equal(YAML.parse(`filtering:\n  rewrites:\n${text.replace(/^/gm, '    ')}`).filtering.rewrites.length, 2)
})

records('Unbound: a server clause with one local-data A record per host, names fully qualified', () => {
  assert.is(
    dnsRecords('unbound', IP, HOSTS),
    ['server:', '  local-data: "traefik.home.example.com. IN A 192.168.0.200"', '  local-data: "argocd.home.example.com. IN A 192.168.0.200"', ''].join('\n'),
  )
})

records('the hosts-file line of 04 is the hosts format of every admin host, the dashboard first', () => {
  const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })
  assert.equal(adminHosts(config), ['traefik.home.example', 'argocd.home.example', 'longhorn.home.example'])
  assert.is(hostsFileLine(config), '127.0.0.200 traefik.home.example argocd.home.example longhorn.home.example')
})

records.run()

// ---
const report = suite("DNS records in 04-verify's report")

const { formatReport } = await import('../lib/steps/verify.ts')
const DNS = Object.fromEntries((['hosts', 'dnsmasq', 'adguard', 'unbound'] as const).map((f) => [f, dnsRecords(f, IP, HOSTS)])) as Record<'hosts' | 'dnsmasq' | 'adguard' | 'unbound', string>
const REPORT = { ok: true, context: 'homelab', checks: [], hostsLine: DNS.hosts.trimEnd(), dns: DNS }

report('beside the hosts line, each DNS server with where its records go, the records indented', () => {
  const lines = formatReport(REPORT).split('\n')
  const at = (start: string) => lines.findIndex((l) => l.startsWith(start))
  assert.is(lines[at('Hosts-file line') + 1], '  192.168.0.200 traefik.home.example.com argocd.home.example.com')
  assert.is(lines[at('  dnsmasq (a file in /etc/dnsmasq.d/') + 1], '    host-record=traefik.home.example.com,192.168.0.200')
  assert.is(lines[at('  AdGuard Home (the list under filtering: rewrites:') + 1], '    - domain: traefik.home.example.com')
  assert.is(lines[at('  Unbound (unbound.conf') + 2], '      local-data: "traefik.home.example.com. IN A 192.168.0.200"')
})

report('with --dns, the report only says where the records went', () => {
  const text = formatReport(REPORT, 'adguard')
  assert.not.match(text, /host-record=|domain: |local-data/)
  assert.match(text, /The admin hosts' records for AdGuard Home are on stdout \(for the list under filtering: rewrites: in AdGuardHome\.yaml/)
})

report.run()
