#!/usr/bin/env -S npx zx
import { runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/01-metallb.ts',
    description:
      'Creates or updates the MetalLB address pools for INTERNAL_IP and EXTERNAL_IP (one /32 pool each,\n' +
      'autoAssign off, only for TRAEFIK_NAMESPACE) and their L2Advertisement. Needs MetalLB installed;\n' +
      'refuses an address another device on the LAN answers for (ARP, seen from this machine); waits\n' +
      '(bounded) for its admission webhook to answer.',
    common: ['env-file', 'context', 'dry-run', 'timeout', 'adopt'],
  },
  import.meta.url,
  async (ctx) => {
    const { runSingleStep } = await import('../lib/run/steps.ts')
    return runSingleStep('01', ctx)
  },
)
