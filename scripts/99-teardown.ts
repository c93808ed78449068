#!/usr/bin/env -S npx zx
import { runScript } from '../lib/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/99-teardown.ts',
    description:
      'Removes what the steps created, in reverse order: the admin IngressRoutes, the Traefik release,\n' +
      'the MetalLB pools and L2Advertisement. The acme.json volume (your certificates) is kept unless\n' +
      '--purge is given. MetalLB itself and the namespaces stay.',
    common: ['env-file', 'context', 'dry-run', 'timeout'],
    options: { purge: { type: 'boolean', help: 'also delete the acme.json volume' } },
  },
  import.meta.url,
  async (ctx) => {
    const [{ stepContext }, { removeIngress }] = await Promise.all([import('../lib/steps.ts'), import('../lib/teardown.ts')])
    const result = await removeIngress({ ...stepContext(ctx), purge: ctx.args.purge === true })
    ctx.log.summary(result.summary)
  },
)
