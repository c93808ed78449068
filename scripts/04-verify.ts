#!/usr/bin/env -S npx zx
import { DNS_OPTION, runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/04-verify.ts',
    description:
      'Proves the result: Traefik pods Running and Ready, each LoadBalancer EXTERNAL-IP equal to its\n' +
      'configured address, every IngressRoute in the cluster that serves an admin host bound only to\n' +
      'internal entrypoints, and a reachability matrix: each admin host (and PUBLIC_PROBE_HOST) asked on\n' +
      'INTERNAL_IP and EXTERNAL_IP, ports 80 and 443, where this machine reaches them; admin hosts must be\n' +
      'routed on INTERNAL_IP and get 404 or nothing on EXTERNAL_IP; and that no other LAN device answers\n' +
      'for either address. Prints the hosts-file line and the records for dnsmasq/Pi-hole, AdGuard Home\n' +
      'and Unbound.\n' +
      'Exit 0 only when all of it holds. Changes nothing.',
    common: ['env-file', 'context', 'timeout'],
    options: {
      json: { type: 'boolean', help: 'print a machine-readable report on stdout' },
      'no-probe': { type: 'boolean', help: 'skip the HTTP requests to INTERNAL_IP and EXTERNAL_IP' },
      'require-probe': { type: 'boolean', help: 'fail when an address cannot be reached from here (default: "not checked", skipped)' },
      dns: DNS_OPTION,
    },
  },
  import.meta.url,
  async (ctx) => {
    const { runSingleStep } = await import('../lib/run/steps.ts')
    return runSingleStep('04', ctx)
  },
)
