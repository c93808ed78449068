/**
 * Runs the kit's LAN check where it is started (the LAN tests start it inside a network
 * namespace with `ip netns exec`) and prints the checks as JSON, with the time they took.
 * Argument: JSON `{ addresses: LanAddress[], nodes: NodeAddress[] | { unknown }, options? }`.
 */
import { checkLanAddresses } from '../../lib/verify/lan-neighbours.ts'

const input = JSON.parse(process.argv[2])
const started = performance.now()
const checks = await checkLanAddresses(input.addresses, input.nodes, input.options)
process.stdout.write(JSON.stringify({ checks, ms: Math.round(performance.now() - started) }) + '\n')
