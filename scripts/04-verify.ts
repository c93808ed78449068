#!/usr/bin/env -S npx zx
import { runScript } from '../lib/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/04-verify.ts',
    description:
      'Proves the result: Traefik pods Running and Ready, each LoadBalancer EXTERNAL-IP equal to its\n' +
      'configured address, every IngressRoute in the cluster that serves an admin host bound only to\n' +
      'internal entrypoints, and, where this machine reaches the addresses, each admin host answering on\n' +
      'INTERNAL_IP and not on EXTERNAL_IP. Prints the hosts-file line. Exit 0 only when all of it holds.\n' +
      'Changes nothing.',
    common: ['env-file', 'context', 'timeout'],
    options: {
      json: { type: 'boolean', help: 'print a machine-readable report on stdout' },
      'no-probe': { type: 'boolean', help: 'skip the HTTP requests to INTERNAL_IP and EXTERNAL_IP' },
    },
  },
  import.meta.url,
  async (ctx) => {
    const { runSingleStep } = await import('../lib/steps.ts')
    return runSingleStep('04', ctx)
  },
)
