/**
 * The LAN check's judgement (lib/verify/lan.ts) on neighbour and routing tables recorded from a
 * Linux kernel (/proc/net/arp, /proc/net/route in a network namespace), and its verdict table.
 * The kernel itself is asked in test/integration/lan.test.ts.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Obj } from '../lib/verify/checks.ts'
import {
  addressHolder,
  lanAddressCheck,
  lanAddresses,
  nodeAddresses,
  type NodeMacs,
  localAddresses,
  parseArpTable,
  parseRouteTable,
  routeTo,
  type Sighting,
} from '../lib/verify/lan.ts'

// Recorded in a namespace whose bridge br0 holds 192.0.2.1/24: .200 and .50 answered (one
// device), .201 and .10 answered (another), .96 and .99 were asked and nobody answered.
const ARP = `IP address       HW type     Flags       HW address            Mask     Device
192.0.2.96       0x1         0x0         00:00:00:00:00:00     *        br0
192.0.2.50       0x1         0x2         0a:57:83:8f:63:6b     *        br0
192.0.2.200      0x1         0x2         0a:57:83:8f:63:6b     *        br0
192.0.2.201      0x1         0x2         E2:D3:87:7A:3D:AD     *        br0
192.0.2.10       0x1         0x6         e2:d3:87:7a:3d:ad     *        br0
`
// The same namespace with a route to 198.51.100.0/24 through 192.0.2.10; and this machine's own
// table, whose default route leaves through eth0 to 192.0.2.1.
const ROUTES_NAMESPACE = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
br0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
br0	006433C6	0A0200C0	0003	0	0	0	00FFFFFF	0	0	0
`
const ROUTES_HOST = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
`

// ---
const tables = suite('LAN: reading the kernel tables')

tables('a neighbour is complete only with an answer in it; MACs in lower case', () => {
  assert.equal(parseArpTable(ARP), [
    { ip: '192.0.2.96', mac: '00:00:00:00:00:00', device: 'br0', complete: false, permanent: false },
    { ip: '192.0.2.50', mac: '0a:57:83:8f:63:6b', device: 'br0', complete: true, permanent: false },
    { ip: '192.0.2.200', mac: '0a:57:83:8f:63:6b', device: 'br0', complete: true, permanent: false },
    { ip: '192.0.2.201', mac: 'e2:d3:87:7a:3d:ad', device: 'br0', complete: true, permanent: false },
    { ip: '192.0.2.10', mac: 'e2:d3:87:7a:3d:ad', device: 'br0', complete: true, permanent: true },
  ])
})

tables('an empty neighbour table is no neighbour', () => {
  assert.equal(parseArpTable('IP address       HW type     Flags       HW address            Mask     Device\n'), [])
})

tables('routes: on a link, through a router, or none', () => {
  const ns = parseRouteTable(ROUTES_NAMESPACE)
  assert.equal(routeTo(ns, '192.0.2.200'), { device: 'br0' })
  assert.equal(routeTo(ns, '198.51.100.7'), { device: 'br0', gateway: '192.0.2.10' })
  assert.is(routeTo(ns, '203.0.113.5'), undefined)
})

tables('the longest prefix wins over the default route', () => {
  const host = parseRouteTable(ROUTES_HOST)
  assert.equal(routeTo(host, '192.0.2.77'), { device: 'eth0' })
  assert.equal(routeTo(host, '203.0.113.5'), { device: 'eth0', gateway: '192.0.2.1' })
})

tables('a big-endian kernel prints addresses in network order', () => {
  const be = parseRouteTable('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\nen0\tC0000200\t00000000\t0001\t0\t0\t0\tFFFFFF00\n', false)
  assert.equal(routeTo(be, '192.0.2.9'), { device: 'en0' })
})

// Recorded in a namespace with eth0 up (192.0.2.5/24) and kube-ipvs0 down holding 192.0.2.200/32,
// as kube-proxy's IPVS mode leaves a node.
const FIB_TRIE = `Main:
  +-- 192.0.2.0/24 3 0 5
     +-- 192.0.2.0/29 2 0 2
        |-- 192.0.2.0
           /24 link UNICAST
        |-- 192.0.2.5
           /32 host LOCAL
     |-- 192.0.2.200
        /32 host LOCAL
     |-- 192.0.2.255
        /32 link BROADCAST
Local:
  +-- 127.0.0.0/8 2 0 2
     +-- 127.0.0.0/31 1 0 0
        |-- 127.0.0.0
           /8 host LOCAL
        |-- 127.0.0.1
           /32 host LOCAL
`

tables("this machine's own addresses, those on a down interface included; not networks or broadcasts", () => {
  assert.equal([...localAddresses(FIB_TRIE)].sort(), ['127.0.0.1', '192.0.2.200', '192.0.2.5'])
})

tables.run()

// ---
const cluster = suite('LAN: what the cluster says')

cluster('each node InternalIP (IPv4), not its hostname or external address', () => {
  const nodes = [
    { metadata: { name: 'mini-1' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.11' }, { type: 'Hostname', address: 'mini-1' }, { type: 'InternalIP', address: 'fd00::11' }] } },
    { metadata: { name: 'mini-2' }, status: { addresses: [{ type: 'ExternalIP', address: '198.51.100.2' }, { type: 'InternalIP', address: '192.168.0.12' }] } },
    { metadata: { name: 'new' }, status: {} },
  ] as Obj[]
  assert.equal(nodeAddresses(nodes), [
    { node: 'mini-1', ip: '192.168.0.11' },
    { node: 'mini-2', ip: '192.168.0.12' },
  ])
})

cluster('an address is held by the Service whose LoadBalancer status carries it', () => {
  const services = [
    { metadata: { name: 'traefik', namespace: 'traefik' }, status: { loadBalancer: { ingress: [{ ip: '192.168.0.201' }] } } },
    { metadata: { name: 'other', namespace: 'apps' }, status: { loadBalancer: {} } },
  ] as Obj[]
  assert.is(addressHolder(services, '192.168.0.201'), 'traefik/traefik')
  assert.is(addressHolder(services, '192.168.0.200'), undefined)
  assert.equal(lanAddresses({ internalIp: '192.168.0.200', externalIp: '192.168.0.201' }, services), [
    { setting: 'INTERNAL_IP', ip: '192.168.0.200' },
    { setting: 'EXTERNAL_IP', ip: '192.168.0.201', heldBy: 'traefik/traefik' },
  ])
})

cluster.run()

// ---
const verdicts = suite('LAN: the verdict for one address')

const FREE = { setting: 'INTERNAL_IP', ip: '192.168.0.200' }
const HELD = { setting: 'INTERNAL_IP', ip: '192.168.0.200', heldBy: 'traefik/traefik-internal' }
const NODE_MAC = '2c:f0:5d:00:00:11'
const PRINTER_MAC = '00:1b:a9:12:34:56'
const NODES: NodeMacs = [
  { node: 'mini-1', ip: '192.168.0.11', sighting: { seen: 'answer', mac: NODE_MAC, device: 'eth0', ms: 1, cached: true } },
  { node: 'mini-2', ip: '192.168.0.12', sighting: { seen: 'silence', device: 'eth0', ms: 3050 } },
]
const answer = (mac: string): Sighting => ({ seen: 'answer', mac, device: 'eth0', ms: 4, cached: false })
const verdict = (address: typeof FREE, sighting: Sighting, nodes: NodeMacs = NODES) => {
  const check = lanAddressCheck(address, sighting, nodes)
  return [check.status, check.detail]
}

verdicts('nobody answers for a free address: pass', () => {
  const [status, detail] = verdict(FREE, { seen: 'silence', device: 'eth0', ms: 3050 })
  assert.is(status, 'pass')
  assert.is(detail, 'no device answered ARP for it on eth0 (3050 ms)')
})

verdicts('a device answers for an address no Service holds yet: fail, with its MAC and what to do', () => {
  const [status, detail] = verdict(FREE, answer(PRINTER_MAC))
  assert.is(status, 'fail')
  assert.match(detail, `${PRINTER_MAC} answered ARP for it on eth0 in 4 ms, and that is no cluster node's MAC (nodes: mini-1 ${NODE_MAC})`)
  assert.match(detail, "pick another INTERNAL_IP outside your router's DHCP range")
  assert.match(detail, `find the device with MAC ${PRINTER_MAC}`)
})

verdicts('before any Service holds it, any answer is a conflict even when the nodes are unknown', () => {
  const [status, detail] = verdict(FREE, answer(PRINTER_MAC), { unknown: 'cannot list the cluster\'s Nodes: forbidden' })
  assert.is(status, 'fail')
  assert.match(detail, 'no Service holds it yet: another device uses 192.168.0.200')
})

verdicts("a node's MAC for an address MetalLB announces: pass, naming the node", () => {
  const [status, detail] = verdict(HELD, answer(NODE_MAC))
  assert.is(status, 'pass')
  assert.match(detail, "node mini-1's MAC (its InternalIP 192.168.0.11)")
})

verdicts("another MAC for an address MetalLB announces: fail, the traffic is split", () => {
  const [status, detail] = verdict(HELD, answer(PRINTER_MAC))
  assert.is(status, 'fail')
  assert.match(detail, 'clients reach it or Service traefik/traefik-internal at random')
})

verdicts("a node's MAC for an address no Service holds: a warning (an old answer, or the node uses it)", () => {
  const [status, detail] = verdict(FREE, { ...answer(NODE_MAC), cached: true } as Sighting)
  assert.is(status, 'warn')
  assert.match(detail, "(the kernel still held that answer): node mini-1's MAC, although no Service holds it")
})

verdicts('an answer for a held address when no node MAC is known: a warning saying why', () => {
  const [status, detail] = verdict(HELD, answer(PRINTER_MAC), { unknown: "cannot list the cluster's Nodes: forbidden" })
  assert.is(status, 'warn')
  assert.match(detail, "cannot tell whether that is a node (cannot list the cluster's Nodes: forbidden)")
})

verdicts('nobody answers although MetalLB should announce it: pass, saying so', () => {
  const [status, detail] = verdict(HELD, { seen: 'silence', device: 'eth0', ms: 3050 })
  assert.is(status, 'pass')
  assert.match(detail, 'although Service traefik/traefik-internal holds it')
})

verdicts('loopback, off-link, no neighbour table: not checked, and why', () => {
  assert.equal(verdict(FREE, { seen: 'loopback' }), ['skip', 'not checked: loopback (192.168.0.200 never leaves this machine, so no LAN device can answer for it)'])
  const [, routed] = verdict(FREE, { seen: 'off-link', via: '10.8.0.1', device: 'wg0' })
  assert.match(routed, 'not checked: 192.168.0.200 is not on a network this machine is attached to (reached through the router 10.8.0.1 on wg0)')
  assert.equal(verdict(FREE, { seen: 'off-link' })[1], 'not checked: this machine has no route to 192.168.0.200; run the step from a machine in that LAN')
  assert.equal(verdict(FREE, { seen: 'unknown', why: 'no neighbour table to read on darwin' }), ['skip', 'not checked: no neighbour table to read on darwin'])
})

verdicts("an address of this machine: not checked once a Service holds it (kube-proxy's), a conflict before", () => {
  const local: Sighting = { seen: 'local', device: 'kube-ipvs0' }
  const [heldStatus, heldDetail] = verdict(HELD, local)
  assert.is(heldStatus, 'skip')
  assert.match(heldDetail, 'interface kube-ipvs0')
  assert.match(verdict(HELD, { seen: 'local' })[1], 'an address of this machine (on an interface that is down;')
  const [freeStatus, freeDetail] = verdict(FREE, { seen: 'local', device: 'eth0', mac: '52:54:00:aa:bb:cc' })
  assert.is(freeStatus, 'fail')
  assert.match(freeDetail, 'this machine itself has 192.168.0.200 (interface eth0, MAC 52:54:00:aa:bb:cc)')
})

verdicts('a node that is this machine counts with its own interface MAC', () => {
  const nodes: NodeMacs = [{ node: 'this-one', ip: '192.168.0.11', sighting: { seen: 'local', device: 'eth0', mac: NODE_MAC } }]
  assert.is(verdict(HELD, answer(NODE_MAC), nodes)[0], 'pass')
})

verdicts.run()
