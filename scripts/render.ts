#!/usr/bin/env -S npx zx
import path from 'node:path'
import { runScript } from '../lib/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/render.ts --out DIR',
    description:
      'Writes exactly what the steps would apply, without contacting a cluster: DIR/01-metallb.yaml,\n' +
      'DIR/02-traefik-values.yaml, DIR/03-internal-routes.yaml. Writes nothing on a configuration error.',
    common: ['env-file'],
    options: {
      out: { type: 'string', arg: 'DIR', help: 'directory to write the three files to (required)', required: { example: 'out/rendered' } },
    },
  },
  import.meta.url,
  async ({ args, config, log }) => {
    const { writeRendered } = await import('../lib/render.ts')
    const files = writeRendered(config(), path.resolve(String(args.out)))
    for (const file of files) {
      const relative = path.relative(process.cwd(), file)
      log.summary(relative.startsWith('..') ? file : relative)
    }
  },
)
