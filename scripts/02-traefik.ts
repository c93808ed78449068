#!/usr/bin/env -S npx zx
import { runScript } from '../lib/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/02-traefik.ts',
    description:
      'Installs or upgrades Traefik v3 from its Helm chart (TRAEFIK_CHART, TRAEFIK_CHART_VERSION) into\n' +
      'TRAEFIK_NAMESPACE: web/websecure on EXTERNAL_IP, intweb/intwebsec on INTERNAL_IP, the ACME resolver,\n' +
      'acme.json on a STORAGE_CLASS volume. Does nothing when chart and values already match the release;\n' +
      'repairs a release left pending by an interrupted run.',
    common: ['env-file', 'context', 'dry-run', 'timeout'],
  },
  import.meta.url,
  async (ctx) => {
    const { runSingleStep } = await import('../lib/steps.ts')
    return runSingleStep('02', ctx)
  },
)
