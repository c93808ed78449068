#!/usr/bin/env -S npx zx
import { runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/03-internal-routes.ts',
    description:
      'Creates or updates one IngressRoute (traefik.io/v1alpha1) per INTERNAL_ROUTES entry, bound to the\n' +
      'internal entrypoints intweb/intwebsec only, and deletes the routes it made for entries since removed.',
    common: ['env-file', 'context', 'dry-run', 'timeout', 'adopt'],
  },
  import.meta.url,
  async (ctx) => {
    const { runSingleStep } = await import('../lib/run/steps.ts')
    return runSingleStep('03', ctx)
  },
)
