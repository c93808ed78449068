#!/usr/bin/env -S npx zx
import path from 'node:path'
import { runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/render.ts --out DIR',
    description:
      'Writes exactly what the steps would apply, without contacting a cluster: DIR/01-metallb.yaml,\n' +
      'DIR/02-traefik-values.yaml, DIR/03-internal-routes.yaml. The Traefik values are written in the shape\n' +
      'of the chart version 02-traefik would install (TRAEFIK_CHART_VERSION, or a local chart\'s Chart.yaml).\n' +
      'Writes nothing on a configuration error.',
    common: ['env-file'],
    options: {
      out: { type: 'string', arg: 'DIR', help: 'directory to write the three files to (required)', required: { example: 'out/rendered' } },
    },
  },
  import.meta.url,
  async ({ args, config, log }) => {
    const [{ resolveChart }, { writeRendered }] = await Promise.all([import('../lib/traefik/chart.ts'), import('../lib/render/render.ts')])
    const chart = await resolveChart(config())
    log.info(`Traefik values for chart ${chart.ref} (values shape ${chart.shape}, version from ${chart.versionFrom})`)
    const files = writeRendered(config(), chart.shape, path.resolve(String(args.out)), chart.version)
    for (const file of files) {
      const relative = path.relative(process.cwd(), file)
      log.summary(relative.startsWith('..') ? file : relative)
    }
  },
)
