#!/usr/bin/env -S npx zx
import path from 'node:path'
import { runScript } from '../lib/cli.ts'
import { EXIT, UserError } from '../lib/errors.ts'
import { resolveChart } from '../lib/chart.ts'
import { writeRendered } from '../lib/render.ts'

await runScript(
  {
    command: 'npx zx scripts/render.ts --out DIR',
    description:
      'Writes exactly what the steps would apply, without contacting a cluster: DIR/01-metallb.yaml,\n' +
      'DIR/02-traefik-values.yaml, DIR/03-internal-routes.yaml. The Traefik values are written in the shape\n' +
      'of the chart version 02-traefik would install (TRAEFIK_CHART_VERSION, or a local chart\'s Chart.yaml).\n' +
      'Writes nothing on a configuration error.',
    common: ['env-file'],
    options: { out: { type: 'string', arg: 'DIR', help: 'directory to write the three files to (required)' } },
  },
  import.meta.url,
  async ({ args, config, log }) => {
    if (typeof args.out !== 'string' || args.out === '') {
      throw new UserError('--out DIR is required (e.g. --out out/rendered)', EXIT.config)
    }
    const chart = await resolveChart(config())
    log.info(`Traefik values for chart ${chart.ref} (values shape ${chart.shape}, version from ${chart.versionFrom})`)
    const files = writeRendered(config(), chart.shape, path.resolve(args.out), chart.version)
    for (const file of files) {
      const relative = path.relative(process.cwd(), file)
      log.summary(relative.startsWith('..') ? file : relative)
    }
  },
)
