#!/usr/bin/env -S npx zx
import { runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/02-traefik.ts',
    description:
      'Installs or upgrades Traefik v3 from its Helm chart (TRAEFIK_CHART, TRAEFIK_CHART_VERSION) into\n' +
      'TRAEFIK_NAMESPACE: web/websecure on EXTERNAL_IP, intweb/intwebsec on INTERNAL_IP, the ACME resolver,\n' +
      'acme.json on a STORAGE_CLASS volume. Values are written in the shape the chart version expects\n' +
      '(chart majors 33 to 41); the chart checks them (helm template) before anything changes. Brings the\n' +
      "cluster's traefik.io CRDs up to the chart's first. Does nothing when chart, values and CRDs already\n" +
      'match; repairs a release left pending by an interrupted run.',
    common: ['env-file', 'context', 'dry-run', 'timeout', 'adopt', 'force', 'allow-downgrade'],
  },
  import.meta.url,
  async (ctx) => {
    const { runSingleStep } = await import('../lib/run/steps.ts')
    return runSingleStep('02', ctx)
  },
)
