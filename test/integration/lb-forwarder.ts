/**
 * Stands in for kube-proxy in front of the real Traefik: listens on each LoadBalancer address:port
 * and forwards every TCP connection to the loopback address of the entrypoint behind it.
 *
 * Runs as its own process (`node lb-forwarder.ts '<json routes>'`), not inside the test process:
 * the tests block their event loop in spawnSync (kubectl, the scripts), and a forwarder there
 * would accept connections it could not serve until the call returned.
 *
 * Prints one line per listener (`listening 127.0.0.200:80 -> 127.0.0.10:8001`), then `ready`; or
 * `bind-error <code> <ip:port>` and exits 1 when an address cannot be bound. Every connection is
 * logged as `connection <listen> from <client>`, so a test can see which address a client used.
 */
import net from 'node:net'

export type ForwardRoute = { listen: { ip: string; port: number }; target: { ip: string; port: number } }

/** What a failed bind means, in words: "address in use" and "permission denied" need different fixes. */
export function bindErrorMessage(code: string | undefined, address: string): string {
  if (code === 'EADDRINUSE') return `cannot listen on ${address}: address in use (another process holds it; wait for it to finish, then rerun)`
  if (code === 'EACCES') return `cannot listen on ${address}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${address}: address not available on this machine`
  return `cannot listen on ${address}: ${code ?? 'unknown error'}`
}

/**
 * Whether this process may listen on ports below 1024 (root or CAP_NET_BIND_SERVICE): binds port 80
 * on a random loopback address and closes it at once. Holds no test address.
 */
export function lowPortsAllowed(): Promise<boolean> {
  const ip = `127.11.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
  const server = net.createServer()
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EACCES'))
    server.listen(80, ip, () => server.close(() => resolve(true)))
  })
}

const isLoopback = (ip: string) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip)

function listen(route: ForwardRoute): Promise<net.Server> {
  const from = `${route.listen.ip}:${route.listen.port}`
  const server = net.createServer((client) => {
    process.stdout.write(`connection ${from} from ${client.remoteAddress}:${client.remotePort}\n`)
    // Keep the client's source address, as kube-proxy does for a LoadBalancer Service with
    // externalTrafficPolicy Local: every 127.x address is local, so it can be bound as ours.
    const upstream = net.connect({ host: route.target.ip, port: route.target.port, localAddress: client.remoteAddress })
    client.pipe(upstream).pipe(client)
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close)
    upstream.on('error', close)
  })
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { address: from })))
    server.listen({ host: route.listen.ip, port: route.listen.port, exclusive: true }, () => resolve(server))
  })
}

async function main(): Promise<void> {
  const routes: ForwardRoute[] = JSON.parse(process.argv[2] ?? '[]')
  for (const r of routes) {
    if (!isLoopback(r.listen.ip) || !isLoopback(r.target.ip)) {
      process.stdout.write(`refused ${r.listen.ip} -> ${r.target.ip}: tests stay on 127.0.0.0/8\n`)
      process.exit(2)
    }
  }
  const servers: net.Server[] = []
  for (const r of routes) {
    try {
      servers.push(await listen(r))
      process.stdout.write(`listening ${r.listen.ip}:${r.listen.port} -> ${r.target.ip}:${r.target.port}\n`)
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { address: string }
      process.stdout.write(`bind-error ${e.code} ${e.address}\n`)
      for (const s of servers) s.close()
      process.exit(1)
    }
  }
  process.stdout.write('ready\n')
  process.on('SIGTERM', () => process.exit(0))
}

if (import.meta.main) await main()
