/**
 * Is INTERNAL_IP / EXTERNAL_IP free on the LAN? MetalLB's L2 mode answers ARP for an address it
 * hands out and never notices another device answering too (metallb#306): a printer or phone that
 * got the address from DHCP then takes part of the traffic, and the UI answers "sometimes".
 *
 * This module judges what the kernel's neighbour table says (pure functions, tested on recorded
 * tables); lan-neighbours.ts makes the kernel ask and reads the table.
 */
import type { Config } from '../config/config.ts'
import type { Check, Obj } from './checks.ts'

/** One line of /proc/net/arp. `complete`: the kernel holds a hardware address it got in an answer. */
export type Neighbour = { ip: string; mac: string; device: string; complete: boolean; permanent: boolean }

/**
 * /proc/net/arp: `IP address  HW type  Flags  HW address  Mask  Device`. Flags 0x2 (ATF_COM) for
 * every state in which the kernel holds an address it was answered with (reachable, stale, delay,
 * probe), 0x6 for a permanent entry, 0x0 while resolving (incomplete) and after nobody answered
 * (failed, address 00:00:00:00:00:00). Entries of NOARP devices (loopback) are not listed.
 */
export function parseArpTable(text: string): Neighbour[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 6)
    .map(([ip, , flags, mac, , device]) => {
      const bits = Number.parseInt(flags, 16) || 0
      return { ip, mac: mac.toLowerCase(), device, complete: (bits & 0x2) !== 0 && !/^(00:)+00$/.test(mac), permanent: (bits & 0x4) !== 0 }
    })
}

/** One line of /proc/net/route (the main table, IPv4): destination, gateway and mask as little-endian hex. */
export type Route = { device: string; destination: number; mask: number; gateway: number; metric: number; up: boolean }

export function parseRouteTable(text: string, littleEndian = true): Route[] {
  const hexToAddress = (hex: string) => {
    const n = Number.parseInt(hex, 16) >>> 0
    if (!littleEndian) return n
    // the kernel prints the network-order address as a host-order number: bytes reversed on little-endian machines
    return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0
  }
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8)
    .map(([device, destination, gateway, flags, , , metric, mask]) => ({
      device,
      destination: hexToAddress(destination),
      gateway: hexToAddress(gateway),
      mask: hexToAddress(mask),
      metric: Number(metric) || 0,
      up: ((Number.parseInt(flags, 16) || 0) & 0x1) !== 0,
    }))
}

export function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined
  return parts.reduce((n, p) => n * 256 + Number(p), 0) >>> 0
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.')
}

/**
 * The route the kernel would take to `ip` (longest prefix, then lowest metric), from the main
 * table: `gateway` set when the address is reached through a router, i.e. not on a link of
 * this machine, where its neighbours cannot be seen. Policy routing is not considered.
 */
export function routeTo(routes: Route[], ip: string): { device: string; gateway?: string } | undefined {
  const target = ipToNumber(ip)
  if (target === undefined) return undefined
  const bits = (mask: number) => mask.toString(2).replace(/0/g, '').length
  const best = routes
    .filter((r) => r.up && ((target & r.mask) >>> 0) === ((r.destination & r.mask) >>> 0))
    .sort((a, b) => bits(b.mask) - bits(a.mask) || a.metric - b.metric)[0]
  if (!best) return undefined
  return best.gateway === 0 ? { device: best.device } : { device: best.device, gateway: numberToIp(best.gateway) }
}

/**
 * This machine's own IPv4 addresses from /proc/net/fib_trie (`/32 host LOCAL` under an address),
 * including those on interfaces that are down, e.g. the LoadBalancer addresses kube-proxy's IPVS
 * mode puts on kube-ipvs0, which the interface list leaves out.
 */
export function localAddresses(fibTrie: string): Set<string> {
  const local = new Set<string>()
  let address: string | undefined
  for (const line of fibTrie.split('\n')) {
    const leaf = /\|-- (\d+\.\d+\.\d+\.\d+)\s*$/.exec(line)
    if (leaf) address = leaf[1]
    else if (address && /^\s*\/32 host LOCAL\s*$/.test(line)) local.add(address)
  }
  return local
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.')
}

/** What this machine sees for one address. */
export type Sighting =
  /** A device answered the kernel's ARP request (or the kernel still holds its answer). */
  | { seen: 'answer'; mac: string; device: string; ms: number; cached: boolean }
  /** On a link of this machine, and nobody answered within the kernel's own resolution. */
  | { seen: 'silence'; device: string; ms: number }
  | { seen: 'loopback' }
  /** An address of this machine itself (the device unknown when it is down). */
  | { seen: 'local'; device?: string; mac?: string }
  /** Not on a link of this machine: reached through `via`, or no route at all. No packet is sent. */
  | { seen: 'off-link'; via?: string; device?: string }
  /** The check cannot look here (no neighbour table, a link without ARP, an error). */
  | { seen: 'unknown'; why: string }

/** One address to check, and the Service that holds it in its LoadBalancer status, if any (MetalLB announces it then). */
export type LanAddress = { setting: string; ip: string; heldBy?: string }
export type NodeAddress = { node: string; ip: string }
export type NodeSighting = NodeAddress & { sighting: Sighting }
/** The nodes' own addresses as seen from here, or why they are not known. */
export type NodeMacs = NodeSighting[] | { unknown: string }

/** Each node's InternalIP (IPv4), as the kubelet reports it. */
export function nodeAddresses(nodes: Obj[]): NodeAddress[] {
  return nodes.flatMap((n) =>
    (n.status?.addresses ?? [])
      .filter((a: any) => a.type === 'InternalIP' && ipToNumber(a.address) !== undefined)
      .map((a: any) => ({ node: n.metadata.name, ip: a.address })),
  )
}

/** The Service whose LoadBalancer status carries `ip` (MetalLB assigned it, so it announces it). */
export function addressHolder(services: Obj[], ip: string): string | undefined {
  const holder = services.find((s) => (s.status?.loadBalancer?.ingress ?? []).some((i: any) => i.ip === ip))
  return holder ? `${holder.metadata.namespace}/${holder.metadata.name}` : undefined
}

/** INTERNAL_IP and EXTERNAL_IP, each with the Service that holds it. */
export function lanAddresses(config: Pick<Config, 'internalIp' | 'externalIp'>, services: Obj[]): LanAddress[] {
  return [
    ['INTERNAL_IP', config.internalIp],
    ['EXTERNAL_IP', config.externalIp],
  ].map(([setting, ip]) => {
    const heldBy = addressHolder(services, ip)
    return heldBy ? { setting, ip, heldBy } : { setting, ip }
  })
}

/** Whether a sighting needs the nodes' MACs to be judged. */
export function needsNodeMacs(sighting: Sighting): boolean {
  return sighting.seen === 'answer'
}

function macOf(s: Sighting): string | undefined {
  return s.seen === 'answer' || s.seen === 'local' ? s.mac : undefined
}

export function lanCheckName(address: LanAddress): string {
  return `no other device on the LAN uses ${address.setting} ${address.ip}`
}

/**
 * The verdict for one address. Before any Service holds it, no device should answer at all; once
 * MetalLB announces it, the answer must come from a node. The kernel keeps the first answer it
 * gets, so when a node and another device both answer, only one of them is seen.
 */
export function lanAddressCheck(address: LanAddress, sighting: Sighting, nodes: NodeMacs): Check {
  const name = lanCheckName(address)
  const { ip, setting, heldBy } = address
  const skip = (detail: string): Check => ({ name, status: 'skip', detail: `not checked: ${detail}` })
  switch (sighting.seen) {
    case 'unknown':
      return skip(sighting.why)
    case 'loopback':
      return skip(`loopback (${ip} never leaves this machine, so no LAN device can answer for it)`)
    case 'off-link':
      return skip(
        sighting.via
          ? `${ip} is not on a network this machine is attached to (reached through the router ${sighting.via} on ${sighting.device}); run the step from a machine in that LAN`
          : `this machine has no route to ${ip}; run the step from a machine in that LAN`,
      )
    case 'local': {
      const where = sighting.device ? `interface ${sighting.device}` : 'on an interface that is down'
      if (heldBy) {
        return skip(
          `${ip} is an address of this machine (${where}; on a node, kube-proxy's IPVS mode puts LoadBalancer addresses on kube-ipvs0), so this machine answers for it itself and cannot see who else does; run 04-verify from another machine in the LAN`,
        )
      }
      return {
        name,
        status: 'fail',
        detail: `this machine itself has ${ip} (${where}${sighting.mac ? `, MAC ${sighting.mac}` : ''}); pick another ${setting} that no device uses, outside your router's DHCP range`,
      }
    }
    case 'silence':
      return {
        name,
        status: 'pass',
        detail: heldBy
          ? `no device answered ARP for it on ${sighting.device} in ${sighting.ms} ms, although Service ${heldBy} holds it (MetalLB does not announce it on this segment yet)`
          : `no device answered ARP for it on ${sighting.device} (${sighting.ms} ms)`,
      }
    case 'answer': {
      const seen = `${sighting.mac} answered ARP for it on ${sighting.device}${sighting.cached ? ' (the kernel still held that answer)' : ` in ${sighting.ms} ms`}`
      const known = Array.isArray(nodes) ? nodes.filter((n) => macOf(n.sighting)) : []
      const node = known.find((n) => macOf(n.sighting) === sighting.mac)
      if (node) {
        return heldBy
          ? { name, status: 'pass', detail: `${seen}: node ${node.node}'s MAC (its InternalIP ${node.ip}); MetalLB announces it from there` }
          : {
              name,
              status: 'warn',
              detail: `${seen}: node ${node.node}'s MAC, although no Service holds it. MetalLB announced it from there before (the kernel keeps old answers), or the node itself uses ${ip} (a kube-vip or keepalived address?): then pick another ${setting}`,
            }
      }
      const whatToDo = `pick another ${setting} outside your router's DHCP range that no device uses, or find the device with MAC ${sighting.mac} (your router's DHCP leases or ARP table list it) and give it another address`
      if (!Array.isArray(nodes) || known.length === 0) {
        const why = Array.isArray(nodes) ? "no node's InternalIP could be resolved to a MAC from here" : nodes.unknown
        if (!heldBy) return { name, status: 'fail', detail: `${seen}, and no Service holds it yet: another device uses ${ip}; ${whatToDo}` }
        return { name, status: 'warn', detail: `${seen}; cannot tell whether that is a node (${why})` }
      }
      const nodeList = known.map((n) => `${n.node} ${macOf(n.sighting)}`).join(', ')
      return {
        name,
        status: 'fail',
        detail: `${seen}, and that is no cluster node's MAC (nodes: ${nodeList}): another device uses ${ip}${heldBy ? `, and clients reach it or Service ${heldBy} at random` : ''}; ${whatToDo}`,
      }
    }
  }
}
