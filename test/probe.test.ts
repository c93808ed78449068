/**
 * The reachability matrix: the judging on tables of what sockets saw, then the sockets themselves
 * against real HTTP/HTTPS servers on loopback addresses 127.0.0.210-212 (high ports; the
 * integration tests own .200/.201).
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/load.ts'
import {
  type Addresses,
  type Asked,
  type Certificate,
  type Column,
  COLUMNS,
  type Exchange,
  formatCertificates,
  formatMatrix,
  judgeCell,
  judgeMatrix,
  matrixCheckNames,
  outcomeOfError,
  type ProbeTarget,
  probeTargets,
  redirectDecision,
  type Where,
} from '../lib/verify/probe.ts'
import { askCell, askMatrix } from '../lib/verify/probe-http.ts'
import { formatReport } from '../lib/steps/verify.ts'
import { makeCertificates } from './certificates.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const ADDRESSES: Addresses = { internal: '127.0.0.200', external: '127.0.0.201' }
const column = (key: Column['key']) => COLUMNS.find((c) => c.key === key)!
const admin = (host: string, p = '/'): ProbeTarget => ({ host, path: p, role: 'admin' })
const ARGOCD = admin('argocd.home.example')
const SHOP: ProbeTarget = { host: 'shop.example', path: '/', role: 'public' }
const ok = (status: number, url = 'http://argocd.home.example/'): Exchange => ({ hops: [{ url, status }], outcome: { kind: 'answered', status } })
const judge = (target: ProbeTarget, key: Column['key'], exchange: Exchange, requireProbe = false) =>
  judgeCell(target, column(key), exchange, ADDRESSES, { requireProbe })

const DEFAULT_CERT: Certificate = {
  subject: 'CN=TRAEFIK DEFAULT CERT',
  issuer: 'CN=TRAEFIK DEFAULT CERT',
  validFrom: '2026-01-01',
  validTo: '2027-01-01',
  altNames: 'DNS:0123.traefik.default',
  trusted: false,
  verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
}

// ---
const targets = suite('probe: which hosts are asked')

targets('the dashboard at /dashboard/, each INTERNAL_ROUTES host at /, PUBLIC_PROBE_HOST last', () => {
  const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: { PUBLIC_PROBE_HOST: 'shop.example' }, cwd: ROOT })
  assert.equal(probeTargets(config), [
    { host: 'traefik.home.example', path: '/dashboard/', role: 'admin' },
    { host: 'argocd.home.example', path: '/', role: 'admin' },
    { host: 'longhorn.home.example', path: '/', role: 'admin' },
    { host: 'shop.example', path: '/', role: 'public' },
  ])
})

targets('without PUBLIC_PROBE_HOST only the admin hosts', () => {
  const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })
  assert.equal(probeTargets(config).map((t) => t.role), ['admin', 'admin', 'admin'])
})

targets.run()

// ---
const redirects = suite('probe: which redirects are followed')
const decide = (location: string, asked = ['http://argocd.home.example/'], from: Where = { scheme: 'http', path: '/' }, status = 302) =>
  redirectDecision('argocd.home.example', ADDRESSES, from, status, location, asked)

redirects('http -> https on the same host is followed', () => {
  assert.equal(decide('https://argocd.home.example/'), { kind: 'follow', to: { scheme: 'https', path: '/' } })
})

redirects('a relative Location stays on the host and scheme, query kept', () => {
  assert.equal(decide('/login?next=%2F'), { kind: 'follow', to: { scheme: 'http', path: '/login?next=%2F' } })
})

redirects('the standard port written out is the same place; any other port leaves', () => {
  assert.equal(decide('https://argocd.home.example:443/'), { kind: 'follow', to: { scheme: 'https', path: '/' } })
  assert.equal(decide('https://argocd.home.example:8443/'), {
    kind: 'stop',
    outcome: { kind: 'left', location: 'https://argocd.home.example:8443/', to: 'argocd.home.example:8443' },
  })
})

redirects('a URL already asked is a loop', () => {
  const asked = ['http://argocd.home.example/', 'https://argocd.home.example/']
  assert.equal(decide('https://argocd.home.example/', asked, { scheme: 'https', path: '/' }, 307), {
    kind: 'stop',
    outcome: { kind: 'loop', location: 'https://argocd.home.example/' },
  })
})

redirects('more than 5 redirects stop, even without a repeat', () => {
  const asked = [1, 2, 3, 4, 5, 6].map((i) => `http://argocd.home.example/${i}`)
  assert.equal(decide('/7', asked).kind, 'stop')
  assert.equal(decide('/6', asked.slice(0, 5)).kind, 'follow')
})

redirects('to the external or internal address (by IP), or another host, is leaving', () => {
  assert.equal(decide('http://127.0.0.201/'), { kind: 'stop', outcome: { kind: 'left', location: 'http://127.0.0.201/', to: 'external' } })
  assert.equal(decide('https://127.0.0.200/x'), { kind: 'stop', outcome: { kind: 'left', location: 'https://127.0.0.200/x', to: 'internal' } })
  assert.equal(decide('https://sso.home.example/auth'), {
    kind: 'stop',
    outcome: { kind: 'left', location: 'https://sso.home.example/auth', to: 'sso.home.example' },
  })
})

redirects('a 200, a 304 and a redirect without Location are final', () => {
  assert.equal(redirectDecision('a.example', ADDRESSES, { scheme: 'http', path: '/' }, 200, '/x', []), { kind: 'final' })
  assert.equal(redirectDecision('a.example', ADDRESSES, { scheme: 'http', path: '/' }, 304, '/x', []), { kind: 'final' })
  assert.equal(redirectDecision('a.example', ADDRESSES, { scheme: 'http', path: '/' }, 302, undefined, []), { kind: 'final' })
})

redirects('socket errors: refused, cannot tell from here, or broken', () => {
  assert.equal(outcomeOfError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:80'), { kind: 'refused' })
  assert.equal(outcomeOfError('EHOSTUNREACH', 'x'), { kind: 'unreachable', reason: 'EHOSTUNREACH' })
  assert.equal(outcomeOfError('ENETUNREACH', 'x'), { kind: 'unreachable', reason: 'ENETUNREACH' })
  assert.equal(outcomeOfError('ECONNRESET', 'socket hang up'), { kind: 'broken', reason: 'ECONNRESET (socket hang up)' })
})

redirects.run()

// ---
const cells = suite('probe: judging one cell')

// [target, column, exchange, requireProbe] -> [text, status, detail pattern]
const TABLE: [string, ProbeTarget, Column['key'], Exchange, boolean, string, string, RegExp][] = [
  ['admin routed internally', ARGOCD, 'internal:80', ok(200), false, '200', 'pass', /^HTTP 200$/],
  ['admin behind basic auth', ARGOCD, 'internal:80', ok(401), false, '401', 'pass', /^HTTP 401$/],
  ['admin with no backend yet', ARGOCD, 'internal:80', ok(503), false, '503', 'pass', /routed; no backend ready yet/],
  ['admin with no route internally', ARGOCD, 'internal:443', ok(404), false, '404', 'fail', /^Traefik answered 404: no route for this host on intwebsec$/],
  ['admin with a broken backend', ARGOCD, 'internal:80', ok(502), false, '502', 'warn', /routed, but the backend does not answer properly/],
  ['nothing on the internal address', ARGOCD, 'internal:443', { hops: [], outcome: { kind: 'refused' } }, false, 'refused', 'fail', /nothing listens on 127\.0\.0\.200:443; Service traefik-internal should expose intwebsec/],
  ['internal address out of reach', ARGOCD, 'internal:80', { hops: [], outcome: { kind: 'unreachable', reason: 'EHOSTUNREACH' } }, false, 'not checked', 'skip', /^not checked: cannot reach 127\.0\.0\.200:80 from here \(EHOSTUNREACH\); run 04-verify on a machine in the LAN/],
  ['... and with --require-probe', ARGOCD, 'internal:80', { hops: [], outcome: { kind: 'unreachable', reason: 'EHOSTUNREACH' } }, true, 'not checked', 'fail', /\(--require-probe\)$/],
  ['external address out of reach', ARGOCD, 'external:443', { hops: [], outcome: { kind: 'unreachable', reason: 'no answer within 3000 ms' } }, false, 'not checked', 'skip', /^not checked: cannot reach 127\.0\.0\.201:443/],
  [
    "Argo CD's HTTPS redirect behind Traefik",
    ARGOCD,
    'internal:80',
    {
      hops: [
        { url: 'http://argocd.home.example/', status: 307, location: 'https://argocd.home.example/' },
        { url: 'https://argocd.home.example/', status: 307, location: 'https://argocd.home.example/' },
      ],
      outcome: { kind: 'loop', location: 'https://argocd.home.example/' },
    },
    false,
    'LOOP',
    'fail',
    /^redirect loop: http:\/\/argocd\.home\.example\/ 307 -> https:\/\/argocd\.home\.example\/ 307 -> https:\/\/argocd\.home\.example\/ again; .*server\.insecure/,
  ],
  [
    'admin redirecting LAN users to the external address',
    ARGOCD,
    'internal:80',
    { hops: [{ url: 'http://argocd.home.example/', status: 302, location: 'http://127.0.0.201/' }], outcome: { kind: 'left', location: 'http://127.0.0.201/', to: 'external' } },
    false,
    '->external',
    'fail',
    /^redirects to the external address \(http:\/\/127\.0\.0\.201\/\): it sends LAN users to the public entrypoint$/,
  ],
  [
    'admin redirecting to another host',
    ARGOCD,
    'internal:443',
    { hops: [{ url: 'https://argocd.home.example/', status: 302, location: 'https://sso.example/' }], outcome: { kind: 'left', location: 'https://sso.example/', to: 'sso.example' } },
    false,
    '->sso.example',
    'fail',
    /^redirects to sso\.example, off argocd\.home\.example on 127\.0\.0\.200/,
  ],
  [
    'http -> https then 200 internally',
    ARGOCD,
    'internal:80',
    {
      hops: [
        { url: 'http://argocd.home.example/', status: 308, location: 'https://argocd.home.example/' },
        { url: 'https://argocd.home.example/', status: 200 },
      ],
      outcome: { kind: 'answered', status: 200 },
    },
    false,
    '308>200',
    'pass',
    /^HTTP 200 after 1 redirect/,
  ],
  ['admin 404 on the external address', ARGOCD, 'external:80', ok(404), false, '404', 'pass', /^HTTP 404 \(no route\)$/],
  ['nothing listens on the external address', ARGOCD, 'external:443', { hops: [], outcome: { kind: 'refused' } }, false, 'refused', 'pass', /^connection refused \(nothing listens\)$/],
  ['admin UI on the external address', ARGOCD, 'external:80', ok(200), false, '200', 'fail', /^HTTP 200: the admin UI is reachable through the public address$/],
  ['admin behind a login on the external address', ARGOCD, 'external:443', ok(401), false, '401', 'fail', /reachable through the public address/],
  ['no backend, but routed on the external address', ARGOCD, 'external:443', ok(503), false, '503', 'fail', /reachable through the public address/],
  [
    'a web -> websecure redirect on the external address ending in 404',
    ARGOCD,
    'external:80',
    {
      hops: [
        { url: 'http://argocd.home.example/', status: 308, location: 'https://argocd.home.example/' },
        { url: 'https://argocd.home.example/', status: 404 },
      ],
      outcome: { kind: 'answered', status: 404 },
    },
    false,
    '308>404',
    'pass',
    /\(no route\)$/,
  ],
  ['something odd on the external address', ARGOCD, 'external:443', { hops: [], outcome: { kind: 'broken', reason: 'ERR_SSL_WRONG_VERSION_NUMBER' } }, false, 'TLS error', 'fail', /but not with 404: ERR_SSL_WRONG_VERSION_NUMBER/],
  [
    'the external address naming the internal one',
    ARGOCD,
    'external:80',
    { hops: [{ url: 'http://argocd.home.example/', status: 301, location: 'http://127.0.0.200/' }], outcome: { kind: 'left', location: 'http://127.0.0.200/', to: 'internal' } },
    false,
    '->internal',
    'fail',
    /tells the internet where the admin entrypoints are/,
  ],
  ['public host routed on the external address', SHOP, 'external:443', ok(200, 'https://shop.example/'), false, '200', 'pass', /^HTTP 200$/],
  ['public host with no route on websecure', SHOP, 'external:443', ok(404, 'https://shop.example/'), false, '404', 'fail', /no route for PUBLIC_PROBE_HOST on websecure/],
  ['public host HTTPS-only', SHOP, 'external:80', ok(404, 'http://shop.example/'), false, '404', 'warn', /fine if the app is served on websecure only/],
  ['public host, nothing on the external address', SHOP, 'external:80', { hops: [], outcome: { kind: 'refused' } }, false, 'refused', 'fail', /Service traefik should expose web/],
  ['public host on the internal address is reported only', SHOP, 'internal:80', ok(404, 'http://shop.example/'), false, '404', 'info', /^reported only/],
  ['... even when out of reach with --require-probe', SHOP, 'internal:443', { hops: [], outcome: { kind: 'unreachable', reason: 'ETIMEDOUT' } }, true, 'not checked', 'info', /cannot reach/],
]

for (const [what, target, key, exchange, requireProbe, text, status, detail] of TABLE) {
  cells(`${what}: ${key} ${text} is ${status}`, () => {
    const cell = judge(target, key, exchange, requireProbe)
    assert.is(cell.text, text)
    assert.is(cell.status, status, cell.detail)
    assert.match(cell.detail, detail)
  })
}

cells('an admin HTTPS cell reports the certificate once; verification errors do not fail it', () => {
  const exchange: Exchange = {
    hops: [
      { url: 'https://argocd.home.example/', status: 302, location: '/login', certificate: DEFAULT_CERT },
      { url: 'https://argocd.home.example/login', status: 200, certificate: DEFAULT_CERT },
    ],
    outcome: { kind: 'answered', status: 200 },
  }
  const cell = judge(ARGOCD, 'internal:443', exchange)
  assert.equal([cell.text, cell.status, cell.detail], ['302>200', 'pass', 'HTTP 200 after 1 redirect(s): https://argocd.home.example/ 302 -> https://argocd.home.example/login 200'])
  assert.equal(cell.certificate, DEFAULT_CERT)
  assert.equal(cell.hops, [
    { url: 'https://argocd.home.example/', status: 302, location: '/login' },
    { url: 'https://argocd.home.example/login', status: 200 },
  ])
})

cells.run()

// ---
const matrix = suite('probe: the matrix, its checks and its table')

const exchangesOf = (texts: Record<Column['key'], Exchange>) => texts
const HEALTHY: Asked[] = [
  {
    target: admin('traefik.home.example', '/dashboard/'),
    exchanges: exchangesOf({
      'internal:80': ok(200),
      'internal:443': { hops: [{ url: 'https://traefik.home.example/dashboard/', status: 200, certificate: DEFAULT_CERT }], outcome: { kind: 'answered', status: 200 } },
      'external:80': ok(404),
      'external:443': { hops: [{ url: 'https://traefik.home.example/dashboard/', status: 404, certificate: DEFAULT_CERT }], outcome: { kind: 'answered', status: 404 } },
    }),
  },
  {
    target: ARGOCD,
    exchanges: exchangesOf({
      'internal:80': { hops: [], outcome: { kind: 'loop', location: 'https://argocd.home.example/' } },
      'internal:443': { hops: [], outcome: { kind: 'loop', location: 'https://argocd.home.example/' } },
      'external:80': { hops: [], outcome: { kind: 'unreachable', reason: 'ETIMEDOUT' } },
      'external:443': { hops: [], outcome: { kind: 'refused' } },
    }),
  },
  {
    target: SHOP,
    exchanges: exchangesOf({
      'internal:80': ok(404),
      'internal:443': ok(404),
      'external:80': ok(200),
      'external:443': { hops: [{ url: 'https://shop.example/', status: 200, certificate: DEFAULT_CERT }], outcome: { kind: 'answered', status: 200 } },
    }),
  },
]

matrix('one check per judged cell, plus the public certificate; the public host on INTERNAL_IP is not judged', () => {
  const { checks } = judgeMatrix(HEALTHY, ADDRESSES, { requireProbe: false })
  assert.equal(
    checks.map((c) => [c.name, c.status]),
    [
      ['traefik.home.example answers on INTERNAL_IP 127.0.0.200:80', 'pass'],
      ['traefik.home.example answers on INTERNAL_IP 127.0.0.200:443', 'pass'],
      ['traefik.home.example does not answer on EXTERNAL_IP 127.0.0.201:80', 'pass'],
      ['traefik.home.example does not answer on EXTERNAL_IP 127.0.0.201:443', 'pass'],
      ['argocd.home.example answers on INTERNAL_IP 127.0.0.200:80', 'fail'],
      ['argocd.home.example answers on INTERNAL_IP 127.0.0.200:443', 'fail'],
      ['argocd.home.example does not answer on EXTERNAL_IP 127.0.0.201:80', 'skip'],
      ['argocd.home.example does not answer on EXTERNAL_IP 127.0.0.201:443', 'pass'],
      ['shop.example (PUBLIC_PROBE_HOST) answers on EXTERNAL_IP 127.0.0.201:80', 'pass'],
      ['shop.example (PUBLIC_PROBE_HOST) answers on EXTERNAL_IP 127.0.0.201:443', 'pass'],
      ['shop.example (PUBLIC_PROBE_HOST) certificate on EXTERNAL_IP 127.0.0.201:443', 'warn'],
    ],
  )
  assert.match(checks.at(-1)!.detail, /ACME has not issued one for this host yet/)
})

matrix('--require-probe turns the cell this machine could not reach into a failure', () => {
  const { checks } = judgeMatrix(HEALTHY, ADDRESSES, { requireProbe: true })
  assert.is(checks.find((c) => c.name === 'argocd.home.example does not answer on EXTERNAL_IP 127.0.0.201:80')!.status, 'fail')
  assert.is(checks.filter((c) => c.status === 'skip').length, 0)
})

matrix('matrixCheckNames names exactly the checks judgeMatrix made', () => {
  const judged = judgeMatrix(HEALTHY, ADDRESSES, { requireProbe: false })
  assert.equal([...matrixCheckNames(judged.matrix)].sort(), judged.checks.map((c) => c.name).sort())
})

matrix('the table: a row per host, a column per address and port, failing cells marked; certificates where a route is expected', () => {
  const { matrix: m } = judgeMatrix(HEALTHY, ADDRESSES, { requireProbe: false })
  assert.equal(formatMatrix(m), [
    'Reachability (internal = INTERNAL_IP 127.0.0.200, external = EXTERNAL_IP 127.0.0.201; ! fails, ~ warns, (...) reported only):',
    '  host                   internal:80  internal:443  external:80  external:443',
    '  traefik.home.example   200          200           404          404',
    '  argocd.home.example    LOOP !       LOOP !        not checked  refused',
    '  shop.example (public)  (404)        (404)         200          200',
  ])
  assert.equal(formatCertificates(m), [
    'Certificates:',
    "  traefik.home.example on internal:443: Traefik's default certificate (CN=TRAEFIK DEFAULT CERT, valid 2026-01-01 to 2027-01-01, not trusted: DEPTH_ZERO_SELF_SIGNED_CERT)",
    "  shop.example on external:443: Traefik's default certificate (CN=TRAEFIK DEFAULT CERT, valid 2026-01-01 to 2027-01-01, not trusted: DEPTH_ZERO_SELF_SIGNED_CERT)",
  ])
})

matrix('the matrix is plain JSON (the --json report carries it)', () => {
  const { matrix: m } = judgeMatrix(HEALTHY, ADDRESSES, { requireProbe: false })
  const back = JSON.parse(JSON.stringify(m))
  assert.equal(back.columns, ['internal:80', 'internal:443', 'external:80', 'external:443'])
  assert.equal(back.rows[1].cells['internal:80'].text, 'LOOP')
  assert.equal(back.rows[0].cells['internal:443'].certificate.subject, 'CN=TRAEFIK DEFAULT CERT')
})

matrix('the text report: the table instead of one line per cell, then what did not pass, then certificates', () => {
  const { matrix: m, checks } = judgeMatrix(HEALTHY, ADDRESSES, { requireProbe: false })
  const pods = { name: 'Traefik pods Running and Ready', status: 'pass' as const, detail: 'traefik-abc Running' }
  const dns = { hosts: '127.0.0.200 traefik.home.example\n', dnsmasq: '', adguard: '', unbound: '' }
  const text = formatReport({ ok: false, context: 'homelab-test', checks: [pods, ...checks], probes: m, hostsLine: '127.0.0.200 traefik.home.example', dns })
  const lines = text.split('\n')
  assert.is(lines[0], '  [ok  ] Traefik pods Running and Ready: traefik-abc Running')
  assert.match(lines[2], /^Reachability /)
  assert.equal(
    lines.filter((l) => l.startsWith('  [')).map((l) => l.split(': ')[0]),
    [
      '  [ok  ] Traefik pods Running and Ready',
      '  [FAIL] argocd.home.example answers on INTERNAL_IP 127.0.0.200:80',
      '  [FAIL] argocd.home.example answers on INTERNAL_IP 127.0.0.200:443',
      '  [skip] argocd.home.example does not answer on EXTERNAL_IP 127.0.0.201:80',
      '  [warn] shop.example (PUBLIC_PROBE_HOST) certificate on EXTERNAL_IP 127.0.0.201:443',
    ],
  )
  assert.ok(lines.indexOf('Certificates:') > lines.findIndex((l) => l.includes('[warn]')))
})

matrix.run()

// --- real sockets

type Route = (host: string, path: string) => { status: number; location?: string }
/** `silent`: accepts connections and never says a word. */
type Listener = { ip: string; scheme: 'http' | 'https'; route?: Route; silent?: boolean }

const NOT_FOUND: Route = () => ({ status: 404 })
const certificates = makeCertificates(['shop.example'])
const skip = typeof certificates === 'string' ? certificates : ''
if (skip) console.log(`\n  probe socket tests skipped: ${skip}\n`)

/** Like Traefik: the default certificate unless SNI names a host it has one for. */
function server(listener: Listener): net.Server {
  if (listener.silent) return net.createServer(() => {})
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const answer = (listener.route ?? NOT_FOUND)((req.headers.host ?? '').split(':')[0], req.url ?? '/')
    res.writeHead(answer.status, answer.location ? { Location: answer.location } : {}).end(answer.status === 404 ? '404 page not found\n' : '')
  }
  if (listener.scheme === 'http') return http.createServer(handle)
  const certs = certificates as Exclude<typeof certificates, string>
  const contexts = Object.fromEntries(Object.entries(certs.hosts).map(([host, pair]) => [host, tls.createSecureContext(pair)]))
  return https.createServer({ ...certs.traefikDefault, SNICallback: (name, cb) => cb(null, contexts[name]) }, handle)
}

/**
 * Starts the listeners on one free pair of high ports (http, https = http + 1), the same pair on
 * every address, as the Services use 80/443 on both. Retries another pair when one is taken.
 */
async function listenAll(listeners: Listener[]): Promise<{ ports: { http: number; https: number }; close: () => Promise<void> }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20000 + 2 * Math.floor(Math.random() * 20000)
    const started: net.Server[] = []
    const sockets = new Set<net.Socket>()
    try {
      for (const l of listeners) {
        const s = server(l)
        s.on('connection', (socket: net.Socket) => {
          sockets.add(socket)
          socket.on('close', () => sockets.delete(socket))
        })
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject)
          s.listen(l.scheme === 'http' ? base : base + 1, l.ip, () => resolve())
        })
        started.push(s)
      }
      const close = async () => {
        for (const socket of sockets) socket.destroy()
        await Promise.all(started.map((s) => new Promise((resolve) => s.close(resolve))))
      }
      return { ports: { http: base, https: base + 1 }, close }
    } catch (err) {
      for (const s of started) s.close()
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    }
  }
  throw new Error('no free pair of ports on 127.0.0.210-212 after 20 tries')
}

const LAN: Addresses = { internal: '127.0.0.210', external: '127.0.0.211' }
const at = (asked: Asked[], host: string) => asked.find((a) => a.target.host === host)!.exchanges

const sockets = suite('probe: real sockets on loopback')
const it = skip ? sockets.skip : sockets

it('admin hosts: routed, Argo CD loop, redirect to the external address, exposed on web, refused on websecure', async () => {
  const internalHttp: Route = (host, p) =>
    host === 'traefik.home.example' && p === '/dashboard/'
      ? { status: 200 }
      : host === 'argocd.home.example'
        ? { status: 307, location: 'https://argocd.home.example/' }
        : host === 'longhorn.home.example'
          ? { status: 302, location: 'http://127.0.0.211/' }
          : host === 'grafana.home.example'
            ? { status: 301, location: 'https://grafana.home.example/' }
            : { status: 404 }
  const internalHttps: Route = (host, p) =>
    host === 'traefik.home.example' && p === '/dashboard/'
      ? { status: 200 }
      : host === 'argocd.home.example'
        ? { status: 307, location: 'https://argocd.home.example/' }
        : host === 'longhorn.home.example'
          ? { status: 503 }
          : host === 'grafana.home.example'
            ? { status: 200 }
            : { status: 404 }
  const externalHttp: Route = (host) => (host === 'grafana.home.example' ? { status: 200 } : { status: 404 })
  const servers = await listenAll([
    { ip: LAN.internal, scheme: 'http', route: internalHttp },
    { ip: LAN.internal, scheme: 'https', route: internalHttps },
    { ip: LAN.external, scheme: 'http', route: externalHttp },
  ])
  try {
    const hosts = ['traefik', 'argocd', 'longhorn', 'grafana'].map((n) => admin(`${n}.home.example`, n === 'traefik' ? '/dashboard/' : '/'))
    const asked = await askMatrix(hosts, LAN, { ports: servers.ports, timeoutMs: 2000 })
    const { matrix: m, checks } = judgeMatrix(asked, LAN, { requireProbe: false })
    assert.equal(
      m.rows.map((r) => [r.host, ...m.columns.map((k) => `${r.cells[k].text}:${r.cells[k].status}`)]),
      [
        ['traefik.home.example', '200:pass', '200:pass', '404:pass', 'refused:pass'],
        ['argocd.home.example', 'LOOP:fail', 'LOOP:fail', '404:pass', 'refused:pass'],
        ['longhorn.home.example', '->external:fail', '503:pass', '404:pass', 'refused:pass'],
        ['grafana.home.example', '301>200:pass', '200:pass', '200:fail', 'refused:pass'],
      ],
    )
    // Asked with the host name in SNI: Traefik's default certificate, reported, not trusted.
    const certificate = m.rows[0].cells['internal:443'].certificate!
    assert.ok(certificate, 'the HTTPS cell carries the certificate')
    assert.equal([certificate.subject, certificate.issuer, certificate.trusted, certificate.verifyError], [
      'CN=TRAEFIK DEFAULT CERT',
      'CN=TRAEFIK DEFAULT CERT',
      false,
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ])
    assert.match(certificate.validTo, /^\d{4}-\d{2}-\d{2}$/)
    assert.equal(
      at(asked, 'argocd.home.example')['internal:80'].hops.map((h) => [h.url, h.status, h.certificate?.subject]),
      [
        ['http://argocd.home.example/', 307, undefined],
        ['https://argocd.home.example/', 307, 'CN=TRAEFIK DEFAULT CERT'],
      ],
    )
    assert.is(checks.filter((c) => c.status === 'fail').length, 4)
  } finally {
    await servers.close()
  }
})

it('a public host: followed from web to websecure, its certificate verified for its name; another host is not followed', async () => {
  const certs = certificates as Exclude<typeof certificates, string>
  const servers = await listenAll([
    {
      ip: LAN.external,
      scheme: 'http',
      route: (host) =>
        host === 'shop.example'
          ? { status: 308, location: 'https://shop.example/' }
          : host === 'blog.example'
            ? { status: 301, location: 'https://www.blog.example/' }
            : { status: 404 },
    },
    { ip: LAN.external, scheme: 'https', route: (host) => (host === 'shop.example' || host === 'blog.example' ? { status: 200 } : { status: 404 }) },
  ])
  try {
    const options = { ports: servers.ports, timeoutMs: 2000, ca: certs.ca }
    const shop = await askMatrix([SHOP], LAN, options)
    const { matrix: m, checks } = judgeMatrix(shop, LAN, { requireProbe: false })
    const row = m.rows[0]
    assert.equal(
      m.columns.map((k) => `${row.cells[k].text}:${row.cells[k].status}`),
      ['refused:info', 'refused:info', '308>200:pass', '200:pass'],
    )
    assert.equal(checks.at(-1), {
      name: 'shop.example (PUBLIC_PROBE_HOST) certificate on EXTERNAL_IP 127.0.0.211:443',
      status: 'pass',
      detail: `CN=shop.example issued by CN=homelab-ingress test CA, valid ${row.cells['external:443'].certificate!.validFrom} to ${row.cells['external:443'].certificate!.validTo}, trusted`,
    })
    // A host the server has no certificate for gets the default one: not valid for that name.
    const blog: ProbeTarget = { host: 'blog.example', path: '/', role: 'public' }
    const https443 = await askCell(blog, 'https', LAN.external, LAN, options)
    assert.equal([https443.outcome, https443.hops[0].certificate?.subject, https443.hops[0].certificate?.verifyError], [
      { kind: 'answered', status: 200 },
      'CN=TRAEFIK DEFAULT CERT',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ])
    const http80 = await askCell(blog, 'http', LAN.external, LAN, options)
    assert.equal(http80.outcome, { kind: 'left', location: 'https://www.blog.example/', to: 'www.blog.example' })
    assert.is(judge(blog, 'external:80', http80).text, '->www.blog.example')
  } finally {
    await servers.close()
  }
})

it('an address that accepts and never answers is "not checked": skipped, or failed with --require-probe', async () => {
  const silent = { internal: '127.0.0.212', external: LAN.external }
  const servers = await listenAll([
    { ip: silent.internal, scheme: 'http', silent: true },
    { ip: silent.internal, scheme: 'https', silent: true },
  ])
  try {
    const started = Date.now()
    const asked = await askMatrix([admin('argocd.home.example')], silent, { ports: servers.ports, timeoutMs: 300 })
    assert.ok(Date.now() - started < 2000, 'bounded by the timeout')
    const cellsOf = (requireProbe: boolean) => {
      const row = judgeMatrix(asked, silent, { requireProbe }).matrix.rows[0]
      return COLUMNS.map((c) => `${row.cells[c.key].text}:${row.cells[c.key].status}`)
    }
    assert.equal(cellsOf(false), ['not checked:skip', 'not checked:skip', 'refused:pass', 'refused:pass'])
    assert.equal(cellsOf(true), ['not checked:fail', 'not checked:fail', 'refused:pass', 'refused:pass'])
    assert.equal(asked[0].exchanges['internal:443'].outcome, { kind: 'unreachable', reason: 'no answer within 300 ms' })
  } finally {
    await servers.close()
  }
})

it('the probe never resolves a name: a host name as the address is refused before any socket', async () => {
  try {
    await askCell(ARGOCD, 'http', 'argocd.home.example', LAN)
    assert.unreachable('expected an error')
  } catch (err) {
    assert.match((err as Error).message, /connects to addresses only/)
  }
})

sockets.run()
