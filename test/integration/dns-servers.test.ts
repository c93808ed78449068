/**
 * The records 04-verify prints for dnsmasq and Unbound, loaded into the real servers (Debian's
 * packages; `make test` installs them, see test/packages.sh), each on a loopback address with no
 * upstream at all, and every admin host asked through them. The resolver here is pointed at that
 * address only (node:dns Resolver.setServers): the machine's own resolver is never asked.
 */
import { spawn, type ChildProcess, spawnSync } from 'node:child_process'
import dgram from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config/load.ts'
import { dnsRecords } from '../../lib/render/dns.ts'
import { adminHosts } from '../../lib/render/render.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
/** 127.0.0.53 is often systemd-resolved's; any 127.0.0.0/8 address is this machine's. */
const LISTEN = '127.0.0.153'
// A LAN-like configuration: the records are only text here, nothing is sent to these addresses.
const config = loadConfig({
  envFile: path.join(ROOT, 'test', 'integration', 'test.env'),
  env: { INTERNAL_IP: '192.0.2.200', DOMAIN: 'home.example.com', INTERNAL_ROUTES: 'argocd=argocd/argocd-server:80,longhorn=longhorn-system/longhorn-frontend:80,grafana=monitoring/grafana:3000' },
  cwd: ROOT,
})
const ADMIN_HOSTS = ['traefik.home.example.com', 'argocd.home.example.com', 'longhorn.home.example.com', 'grafana.home.example.com']

/** The binary, on PATH or in the sbin directories Debian installs daemons to (not on a user's PATH). */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin']
  return dirs.map((d) => path.join(d, name)).find((p) => fs.existsSync(p))
}

/** A port free on LISTEN for both UDP and TCP (both servers answer on both). */
async function freePort(): Promise<number> {
  for (;;) {
    const udp = dgram.createSocket('udp4')
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(0, LISTEN, () => resolve(udp.address().port))
    })
    const tcpFree = await new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false))
      server.listen(port, LISTEN, () => server.close(() => resolve(true)))
    })
    udp.close()
    if (tcpFree) return port
  }
}

type Server = { process: ChildProcess; port: number; log: () => string }
const started: ChildProcess[] = []
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-dns-'))
process.on('exit', () => {
  for (const p of started) if (p.exitCode === null) p.kill('SIGKILL')
  fs.rmSync(tmp, { recursive: true, force: true })
})

function startServer(command: string, args: string[], port: number, logFile: string): Server {
  const out = fs.openSync(logFile, 'w')
  const child = spawn(command, args, { stdio: ['ignore', out, out] })
  started.push(child)
  return { process: child, port, log: () => fs.readFileSync(logFile, 'utf8') }
}

async function stopServer(server: Server | undefined): Promise<void> {
  if (!server || server.process.exitCode !== null) return
  const exited = new Promise((resolve) => server.process.once('exit', resolve))
  server.process.kill('SIGTERM')
  await exited
}

function resolverFor(server: Server): Resolver {
  const resolver = new Resolver({ timeout: 1000, tries: 1 })
  resolver.setServers([`${LISTEN}:${server.port}`])
  return resolver
}

/** Waits (bounded) until the server answers the first admin host. */
async function answering(server: Server, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (server.process.exitCode !== null) throw new Error(`${what} exited (${server.process.exitCode}):\n${server.log()}`)
    try {
      await resolverFor(server).resolve4(ADMIN_HOSTS[0])
      return
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not answer on ${LISTEN}:${server.port} within 10 s (${(err as NodeJS.ErrnoException).code}):\n${server.log()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

const errorCode = (promise: Promise<unknown>) => promise.then(
  (answer) => `answered ${JSON.stringify(answer)}`,
  (err: NodeJS.ErrnoException) => err.code,
)

// --- dnsmasq

const DNSMASQ = findBinary('dnsmasq')
const dnsmasqSkip = DNSMASQ ? '' : 'dnsmasq is not installed (Debian: dnsmasq-base; `make test` installs it when run as root)'
if (dnsmasqSkip) console.log(`\n  dnsmasq tests skipped: ${dnsmasqSkip}\n`)

const dnsmasq = suite('integration: the dnsmasq records in a real dnsmasq')
const itDnsmasq = dnsmasqSkip ? dnsmasq.skip : dnsmasq
let dnsmasqServer: Server | undefined
let dnsmasqError: Error | undefined

dnsmasq.before(async () => {
  if (dnsmasqSkip) return
  try {
    const records = path.join(tmp, 'homelab-ingress.conf')
    fs.writeFileSync(records, dnsRecords('dnsmasq', config.internalIp, adminHosts(config)))
    const port = await freePort()
    dnsmasqServer = startServer(
      DNSMASQ!,
      [
        '--keep-in-foreground',
        '--conf-file=/dev/null', // not the machine's /etc/dnsmasq.conf
        `--conf-file=${records}`,
        '--no-resolv', // no upstream: nothing is ever forwarded
        '--no-hosts',
        '--no-poll',
        `--listen-address=${LISTEN}`,
        '--bind-interfaces',
        `--port=${port}`,
        '--pid-file=',
        '--log-facility=-',
        '--log-queries',
      ],
      port,
      path.join(tmp, 'dnsmasq.log'),
    )
    await answering(dnsmasqServer, 'dnsmasq')
  } catch (err) {
    dnsmasqError = err as Error
  }
})

dnsmasq.after(() => stopServer(dnsmasqServer))

itDnsmasq('every admin host resolves to INTERNAL_IP', async () => {
  if (dnsmasqError) throw dnsmasqError
  for (const host of ADMIN_HOSTS) assert.equal(await resolverFor(dnsmasqServer!).resolve4(host), ['192.0.2.200'], host)
})

itDnsmasq('dnsmasq answers the rest about those names itself: no AAAA, no subdomains, nothing forwarded', async () => {
  if (dnsmasqError) throw dnsmasqError
  const resolver = resolverFor(dnsmasqServer!)
  assert.is(await errorCode(resolver.resolve6('argocd.home.example.com')), 'ENODATA')
  assert.is(await errorCode(resolver.resolve4('evil.argocd.home.example.com')), 'ENOTFOUND')
  // a name the records do not hold would go upstream, and there is none
  assert.is(await errorCode(resolver.resolve4('blog.home.example.com')), 'EREFUSED')
  assert.match(dnsmasqServer!.log(), /config argocd\.home\.example\.com is NODATA-IPv6/)
})

dnsmasq.run()

// --- Unbound

const UNBOUND = findBinary('unbound')
const unboundSkip = UNBOUND ? '' : 'unbound is not installed (Debian: unbound; `make test` installs it when run as root)'
if (unboundSkip) console.log(`\n  Unbound tests skipped: ${unboundSkip}\n`)

const unbound = suite('integration: the Unbound records in a real Unbound')
const itUnbound = unboundSkip ? unbound.skip : unbound
let unboundServer: Server | undefined
let unboundError: Error | undefined

unbound.before(async () => {
  if (unboundSkip) return
  try {
    const records = path.join(tmp, 'homelab-ingress-unbound.conf')
    fs.writeFileSync(records, dnsRecords('unbound', config.internalIp, adminHosts(config)))
    const port = await freePort()
    const conf = path.join(tmp, 'unbound.conf')
    fs.writeFileSync(
      conf,
      [
        'server:',
        `  interface: ${LISTEN}`,
        `  port: ${port}`,
        '  do-ip6: no',
        '  do-daemonize: no',
        '  use-syslog: no',
        '  logfile: ""',
        '  log-queries: yes',
        '  chroot: ""',
        '  username: ""',
        `  directory: "${tmp}"`,
        '  pidfile: ""',
        '  num-threads: 1',
        // a recursive resolver with no way out: no validator (no trust anchor needed), no
        // forwarders, and no address it may query
        '  module-config: "iterator"',
        '  do-not-query-localhost: yes',
        '  do-not-query-address: 0.0.0.0/0',
        'remote-control:',
        '  control-enable: no',
        // the kit's records as the user would add them: a file of their own, server clause included
        `include: "${records}"`,
        '',
      ].join('\n'),
    )
    const checked = spawnSync(findBinary('unbound-checkconf') ?? 'unbound-checkconf', [conf], { encoding: 'utf8' })
    if (checked.status !== 0) throw new Error(`unbound-checkconf refused the configuration:\n${checked.stdout}${checked.stderr}`)
    unboundServer = startServer(UNBOUND!, ['-d', '-c', conf], port, path.join(tmp, 'unbound.log'))
    await answering(unboundServer, 'unbound')
  } catch (err) {
    unboundError = err as Error
  }
})

unbound.after(() => stopServer(unboundServer))

itUnbound('every admin host resolves to INTERNAL_IP', async () => {
  if (unboundError) throw unboundError
  for (const host of ADMIN_HOSTS) assert.equal(await resolverFor(unboundServer!).resolve4(host), ['192.0.2.200'], host)
})

itUnbound('Unbound answers AAAA for those names itself: no data', async () => {
  if (unboundError) throw unboundError
  assert.is(await errorCode(resolverFor(unboundServer!).resolve6('grafana.home.example.com')), 'ENODATA')
})

unbound.run()
