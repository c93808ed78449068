/**
 * The LAN check against a real kernel: a LAN of network namespaces this test creates and removes,
 * on documentation addresses (192.0.2.0/24) with no route out.
 *
 *   "lan"      the machine the kit runs on: bridge br0, 192.0.2.1/24; the check runs here
 *   "node"     a cluster node: InternalIP 192.0.2.10, and EXTERNAL_IP 192.0.2.201 as MetalLB's
 *              L2 mode announces it (the node answers ARP for it with its own MAC)
 *   "squatter" another device that took INTERNAL_IP 192.0.2.200 (from DHCP, say)
 *
 * The check runs inside "lan" as the kit would (`ip netns exec`, test/integration/lan-check.ts);
 * node addresses are given to it directly, as 01 and 04 give it the Nodes' InternalIPs. The MACs it
 * must name are read from the namespaces' interfaces, not from the code under test.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Check } from '../../lib/verify/checks.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
const NS = { lan: `hi-lan-${process.pid}`, node: `hi-node-${process.pid}`, squatter: `hi-squat-${process.pid}` }

const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' })
const must = (...args: string[]) => {
  const r = ip(...args)
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error}`)
  return r.stdout
}

function unavailableReason(): string {
  if (process.platform !== 'linux') return `network namespaces are Linux's (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root (CI runs as root)'
  const probe = ip('-V')
  if (probe.error || probe.status !== 0) return 'the `ip` command (iproute2) is not installed'
  return ''
}

const skip = unavailableReason()
if (skip) console.log(`\n  LAN namespace tests skipped: ${skip}\n`)

const lan = suite('integration: the LAN check in network namespaces')
const it = skip ? lan.skip : lan
let setupError: Error | undefined
const mac: Record<'node' | 'squatter', string> = { node: '', squatter: '' }

function removeNamespaces(): void {
  for (const name of Object.values(NS)) ip('netns', 'del', name)
}

lan.before(() => {
  if (skip) return
  try {
    removeNamespaces()
    for (const name of Object.values(NS)) must('netns', 'add', name)
    must('-n', NS.lan, 'link', 'add', 'br0', 'type', 'bridge')
    must('-n', NS.lan, 'addr', 'add', '192.0.2.1/24', 'dev', 'br0')
    for (const [peer, port] of [[NS.node, 'to-node'], [NS.squatter, 'to-squat']]) {
      // created straight inside the namespaces: nothing appears in this machine's own
      must('link', 'add', port, 'netns', NS.lan, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer)
      must('-n', NS.lan, 'link', 'set', port, 'master', 'br0', 'up')
    }
    must('-n', NS.lan, 'link', 'set', 'br0', 'up')
    // as kube-proxy's IPVS mode leaves a node: a LoadBalancer address on an interface that is down
    must('-n', NS.lan, 'link', 'add', 'kube-ipvs0', 'type', 'veth', 'peer', 'name', 'ipvs-peer')
    must('-n', NS.lan, 'addr', 'add', '192.0.2.202/32', 'dev', 'kube-ipvs0')
    must('-n', NS.lan, 'link', 'set', 'lo', 'up')
    // a router on the LAN (the node) leads to 198.51.100.0/24; nothing leads anywhere else
    must('-n', NS.lan, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.10')
    must('-n', NS.node, 'addr', 'add', '192.0.2.10/24', 'dev', 'eth0')
    must('-n', NS.node, 'addr', 'add', '192.0.2.201/32', 'dev', 'eth0')
    must('-n', NS.squatter, 'addr', 'add', '192.0.2.50/24', 'dev', 'eth0')
    must('-n', NS.squatter, 'addr', 'add', '192.0.2.200/32', 'dev', 'eth0')
    for (const peer of [NS.node, NS.squatter]) must('-n', peer, 'link', 'set', 'eth0', 'up')
    mac.node = must('netns', 'exec', NS.node, 'cat', '/sys/class/net/eth0/address').trim()
    mac.squatter = must('netns', 'exec', NS.squatter, 'cat', '/sys/class/net/eth0/address').trim()
  } catch (err) {
    setupError = err as Error
  }
})

lan.after(() => {
  if (!skip) removeNamespaces()
})
// also when the run stops half-way
process.on('exit', () => {
  if (!skip) removeNamespaces()
})

type Result = { checks: Check[]; ms: number }

/** Runs the kit's check inside the "lan" namespace, from an empty neighbour table (each test asks afresh). */
function checkFromLan(addresses: object[], nodes: object): Result {
  if (setupError) throw setupError
  must('-n', NS.lan, 'neigh', 'flush', 'dev', 'br0')
  const r = spawnSync('ip', ['netns', 'exec', NS.lan, process.execPath, path.join(ROOT, 'test', 'integration', 'lan-check.ts'), JSON.stringify({ addresses, nodes })], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  if (r.status !== 0) throw new Error(`lan-check.ts failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout)
}

const NODES = [{ node: 'node-1', ip: '192.0.2.10' }]
const byIp = (result: Result, address: string) => {
  const check = result.checks.find((c) => c.name.endsWith(` ${address}`))
  if (!check) throw new Error(`no check for ${address} in ${JSON.stringify(result.checks)}`)
  return check
}

it('before 01 claims the addresses: the squatter is found with its MAC; an unused address passes', () => {
  const result = checkFromLan(
    [
      { setting: 'INTERNAL_IP', ip: '192.0.2.200' },
      { setting: 'EXTERNAL_IP', ip: '192.0.2.99' },
    ],
    NODES,
  )
  const squatted = byIp(result, '192.0.2.200')
  assert.is(squatted.status, 'fail', squatted.detail)
  assert.match(squatted.detail, `${mac.squatter} answered ARP for it on br0`)
  assert.match(squatted.detail, `and that is no cluster node's MAC (nodes: node-1 ${mac.node})`)
  const free = byIp(result, '192.0.2.99')
  assert.is(free.status, 'pass', free.detail)
  assert.match(free.detail, /^no device answered ARP for it on br0 \(\d+ ms\)$/)
  console.log(`\n  LAN check, a squatter and an unused address: ${result.ms} ms in all (${squatted.detail.split(',')[0]}; ${free.detail})`)
})

it("once MetalLB announces them: the node's MAC passes, the squatter's fails", () => {
  const result = checkFromLan(
    [
      { setting: 'INTERNAL_IP', ip: '192.0.2.200', heldBy: 'traefik/traefik-internal' },
      { setting: 'EXTERNAL_IP', ip: '192.0.2.201', heldBy: 'traefik/traefik' },
    ],
    NODES,
  )
  const announced = byIp(result, '192.0.2.201')
  assert.is(announced.status, 'pass', announced.detail)
  assert.match(announced.detail, `${mac.node} answered ARP for it on br0`)
  assert.match(announced.detail, "node node-1's MAC (its InternalIP 192.0.2.10)")
  const squatted = byIp(result, '192.0.2.200')
  assert.is(squatted.status, 'fail', squatted.detail)
  assert.match(squatted.detail, `${mac.squatter} answered ARP`)
  assert.match(squatted.detail, 'clients reach it or Service traefik/traefik-internal at random')
  console.log(`  LAN check, the node and the squatter answering: ${result.ms} ms in all (node: ${announced.detail.split(': ')[0]}; squatter: ${squatted.detail.split(', ')[0]})`)
})

it("not checked where no LAN device can be seen: loopback, behind a router, no route, kube-proxy's address; this machine's own address is a conflict", () => {
  const result = checkFromLan(
    [
      { setting: 'INTERNAL_IP', ip: '127.0.0.200' },
      { setting: 'EXTERNAL_IP', ip: '198.51.100.7' },
      { setting: 'INTERNAL_IP', ip: '203.0.113.9' },
      { setting: 'EXTERNAL_IP', ip: '192.0.2.1' },
      { setting: 'EXTERNAL_IP', ip: '192.0.2.202', heldBy: 'traefik/traefik' },
    ],
    NODES,
  )
  const ipvs = byIp(result, '192.0.2.202')
  assert.is(ipvs.status, 'skip', ipvs.detail)
  assert.match(ipvs.detail, 'not checked: 192.0.2.202 is an address of this machine (on an interface that is down;')
  assert.equal(byIp(result, '127.0.0.200').detail, 'not checked: loopback (127.0.0.200 never leaves this machine, so no LAN device can answer for it)')
  assert.match(byIp(result, '198.51.100.7').detail, /^not checked: 198\.51\.100\.7 is not on a network this machine is attached to \(reached through the router 192\.0\.2\.10 on br0\)/)
  assert.match(byIp(result, '203.0.113.9').detail, /^not checked: this machine has no route to 203\.0\.113\.9/)
  const own = byIp(result, '192.0.2.1')
  assert.is(own.status, 'fail')
  assert.match(own.detail, 'this machine itself has 192.0.2.1 (interface br0')
  // nothing went out for the addresses that are not on the link
  const neighbours = must('netns', 'exec', NS.lan, 'cat', '/proc/net/arp')
  assert.not.match(neighbours, /198\.51\.100\.7|203\.0\.113\.9/)
})

it('nodes are resolved only when an answer needs comparing: a free address sends nothing to them', () => {
  const result = checkFromLan([{ setting: 'INTERNAL_IP', ip: '192.0.2.98' }], NODES)
  assert.is(result.checks[0].status, 'pass', result.checks[0].detail)
  const neighbours = must('netns', 'exec', NS.lan, 'cat', '/proc/net/arp')
  assert.not.match(neighbours, /192\.0\.2\.10\s/)
})

lan.run()
