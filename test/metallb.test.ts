import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { isUnicastIPv4, parseCidr, poolEntryContains } from '../lib/base/net.ts'

// ---
const pools = suite('poolEntryContains: does a MetalLB pool entry hold an address')

pools('CIDRs, including the blog\'s /24 and our /32', () => {
  assert.ok(poolEntryContains('192.168.0.0/24', '192.168.0.200'))
  assert.ok(poolEntryContains('192.168.0.200/32', '192.168.0.200'))
  assert.not.ok(poolEntryContains('192.168.0.200/32', '192.168.0.201'))
  assert.not.ok(poolEntryContains('192.168.1.0/24', '192.168.0.200'))
})

pools('a-b ranges, ends included', () => {
  assert.ok(poolEntryContains('192.168.0.200-192.168.0.201', '192.168.0.201'))
  assert.ok(poolEntryContains('192.168.0.200-192.168.0.201', '192.168.0.200'))
  assert.not.ok(poolEntryContains('192.168.0.200-192.168.0.201', '192.168.0.202'))
})

pools('a CIDR written from a host address still means its network', () => {
  assert.ok(poolEntryContains('10.0.0.77/30', '10.0.0.78'))
  assert.not.ok(poolEntryContains('10.0.0.77/30', '10.0.0.80'))
})

pools('IPv6 entries and garbage hold no IPv4 address', () => {
  assert.not.ok(poolEntryContains('fc00:f853:ccd:e799::/124', '192.168.0.200'))
  assert.not.ok(poolEntryContains('not-an-address', '192.168.0.200'))
  assert.not.ok(poolEntryContains('192.168.0.201-192.168.0.200', '192.168.0.200'))
  assert.not.ok(poolEntryContains('192.168.000.0/24', '192.168.0.200'))
})

pools('spaces around a range\'s dash, a bare address, and IPv6 entries holding IPv6 addresses, as MetalLB reads them', () => {
  assert.ok(poolEntryContains('192.168.0.200 - 192.168.0.201', '192.168.0.201'))
  assert.ok(poolEntryContains('192.168.0.200', '192.168.0.200'))
  assert.ok(poolEntryContains('fc00:f853:ccd:e799::/124', 'fc00:f853:ccd:e799::3'))
})

// ---
const cidrs = suite('parseCidr and isUnicastIPv4: the settings\' addresses')

cidrs('CIDRs of both families; no leading zeros, no prefix past the family\'s width', () => {
  assert.equal(parseCidr('192.168.0.0/24'), { address: '192.168.0.0', prefix: 24, family: 'ipv4' })
  assert.equal(parseCidr('fc00::/7'), { address: 'fc00::', prefix: 7, family: 'ipv6' })
  for (const bad of ['192.168.1.7', '192.168.01.0/24', '10.0.0.0/33', 'fe80::/129', 'lan.example.com/24', '/8']) assert.is(parseCidr(bad), undefined, bad)
})

cidrs('unicast: not 0/8, multicast or the reserved 240/4', () => {
  for (const ip of ['192.168.0.200', '10.0.0.1', '223.255.255.254']) assert.ok(isUnicastIPv4(ip), ip)
  for (const ip of ['0.1.2.3', '224.0.0.1', '239.1.1.1', '240.0.0.1', '255.255.255.255', '1.2.3']) assert.not.ok(isUnicastIPv4(ip), ip)
})

pools.run()
cidrs.run()
