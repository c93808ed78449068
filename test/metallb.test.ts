import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { poolEntryContains } from '../lib/base/net.ts'

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
})

pools.run()
