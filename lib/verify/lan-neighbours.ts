/**
 * Who answers for an address on the LAN, seen without root: one empty UDP datagram to the
 * address's discard port (9) makes the kernel resolve it, sending ARP requests when it holds no
 * answer yet, and /proc/net/arp shows who answered. lan.ts judges what is seen.
 *
 * Nothing is sent to an address that is not on a link of this machine (reached through a router,
 * or no route at all), to loopback, or to this machine's own addresses.
 */
import dgram from 'node:dgram'
import fs from 'node:fs/promises'
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Check } from './checks.ts'
import {
  isLoopback,
  type LanAddress,
  localAddresses,
  lanAddressCheck,
  type NodeAddress,
  type NodeMacs,
  needsNodeMacs,
  type Neighbour,
  parseArpTable,
  parseRouteTable,
  routeTo,
  type Sighting,
} from './lan.ts'

export type SightingOptions = {
  /** Bound on the wait for an answer (default: as long as the kernel asks, see kernelResolutionMs). */
  waitMs?: number
  pollMs?: number
}

const DISCARD_PORT = 9
const ARPHRD_ETHER = 1
const IFF_NOARP = 0x80

/** What this machine's kernel sees for `ip`. */
export async function seeWhoAnswers(ip: string, options: SightingOptions = {}): Promise<Sighting> {
  if (isLoopback(ip)) return { seen: 'loopback' }
  const local = localInterface(ip)
  if (local) return { seen: 'local', ...local }
  if (process.platform !== 'linux') {
    return { seen: 'unknown', why: `no neighbour table to read on ${process.platform} (the check reads Linux's /proc/net/arp)` }
  }
  const fibTrie = await fs.readFile('/proc/net/fib_trie', 'utf8').catch(() => '')
  if (localAddresses(fibTrie).has(ip)) return { seen: 'local' }
  let routes
  try {
    routes = parseRouteTable(await fs.readFile('/proc/net/route', 'utf8'), os.endianness() === 'LE')
  } catch (err) {
    return { seen: 'unknown', why: `cannot read the routing table (/proc/net/route: ${(err as Error).message})` }
  }
  const route = routeTo(routes, ip)
  if (!route) return { seen: 'off-link' }
  if (route.gateway) return { seen: 'off-link', via: route.gateway, device: route.device }
  const noArp = await linkWithoutArp(route.device)
  if (noArp) return { seen: 'unknown', why: noArp }
  return resolveOnLink(ip, route.device, options)
}

function localInterface(ip: string): { device: string; mac?: string } | undefined {
  for (const [device, addresses] of Object.entries(os.networkInterfaces())) {
    const own = (addresses ?? []).find((a) => a.family === 'IPv4' && a.address === ip)
    if (own) return { device, ...(own.mac && own.mac !== '00:00:00:00:00:00' ? { mac: own.mac.toLowerCase() } : {}) }
  }
  return undefined
}

/** Tunnels and point-to-point links have no neighbours to read. */
async function linkWithoutArp(device: string): Promise<string | undefined> {
  try {
    const [type, flags] = await Promise.all(['type', 'flags'].map((f) => fs.readFile(`/sys/class/net/${device}/${f}`, 'utf8')))
    if (Number(type) !== ARPHRD_ETHER || (Number.parseInt(flags, 16) & IFF_NOARP) !== 0) {
      return `the route to it leaves through ${device}, a link without ARP (a tunnel or point-to-point link), so no neighbour can be seen there`
    }
  } catch {
    // no /sys (a container without it): try anyway, the neighbour table answers or it does not
  }
  return undefined
}

async function readNeighbours(): Promise<Neighbour[]> {
  return parseArpTable(await fs.readFile('/proc/net/arp', 'utf8'))
}

function entryFor(table: Neighbour[], ip: string, device: string): Neighbour | undefined {
  const entries = table.filter((n) => n.ip === ip)
  return entries.find((n) => n.device === device) ?? entries[0]
}

async function resolveOnLink(ip: string, device: string, options: SightingOptions): Promise<Sighting> {
  const pollMs = options.pollMs ?? 20
  let table: Neighbour[]
  try {
    table = await readNeighbours()
  } catch (err) {
    return { seen: 'unknown', why: `cannot read the neighbour table (/proc/net/arp: ${(err as Error).message})` }
  }
  // The kernel answers from what it holds (reachable or stale) without asking again: so does the check.
  const held = entryFor(table, ip, device)
  if (held?.complete) return { seen: 'answer', mac: held.mac, device: held.device, ms: 0, cached: true }

  const waitMs = options.waitMs ?? (await kernelResolutionMs(device))
  const started = performance.now()
  const socket = dgram.createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.send(Buffer.alloc(0), DISCARD_PORT, ip, (err) => (err ? reject(err) : resolve()))
    })
    for (;;) {
      const entry = entryFor(await readNeighbours(), ip, device)
      const ms = Math.round(performance.now() - started)
      if (entry?.complete) return { seen: 'answer', mac: entry.mac, device: entry.device, ms, cached: false }
      if (ms >= waitMs) return { seen: 'silence', device, ms }
      await sleep(pollMs)
    }
  } catch (err) {
    return { seen: 'unknown', why: `could not make the kernel resolve ${ip} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }
  } finally {
    socket.close()
  }
}

/**
 * How long the kernel itself asks before it gives the address up: mcast_solicit requests,
 * retrans_time_ms apart, the last one also waited for (3 x 1 s by default). /proc/net/arp shows a
 * pending and a failed resolution alike, so the check waits as long as the kernel would, within
 * 1 to 5 s.
 */
async function kernelResolutionMs(device: string): Promise<number> {
  const read = async (name: string, fallback: number) => {
    const value = Number((await fs.readFile(`/proc/sys/net/ipv4/neigh/${device}/${name}`, 'utf8').catch(() => '')).trim())
    return Number.isFinite(value) && value > 0 ? value : fallback
  }
  const [requests, apartMs] = await Promise.all([read('mcast_solicit', 3), read('retrans_time_ms', 1000)])
  return Math.min(Math.max(requests * apartMs + 50, 1000), 5000)
}

/**
 * The LAN check for each address: who answers for it, and when something answers, the nodes'
 * MACs to compare with (each node's InternalIP resolved the same way; only then, so a check
 * that sees nothing sends nothing to the nodes).
 */
export async function checkLanAddresses(addresses: LanAddress[], nodes: NodeAddress[] | { unknown: string }, options: SightingOptions = {}): Promise<Check[]> {
  const sightings = await Promise.all(addresses.map((a) => seeWhoAnswers(a.ip, options)))
  let nodeMacs: NodeMacs = Array.isArray(nodes) ? [] : nodes
  if (Array.isArray(nodes) && sightings.some(needsNodeMacs)) {
    nodeMacs = await Promise.all(nodes.map(async (n) => ({ ...n, sighting: await seeWhoAnswers(n.ip, options) })))
  }
  return addresses.map((a, i) => lanAddressCheck(a, sightings[i], nodeMacs))
}
