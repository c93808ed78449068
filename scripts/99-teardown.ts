#!/usr/bin/env -S npx zx
import { runScript } from '../lib/run/cli.ts'

await runScript(
  {
    command: 'npx zx scripts/99-teardown.ts',
    description:
      'Removes what this configuration created, in reverse order: its admin IngressRoutes, its Traefik\n' +
      'release, its MetalLB pools and L2Advertisement. Objects other configurations or people created are\n' +
      'left alone and named. The acme.json volume (your certificates) is kept unless --purge is given.\n' +
      'MetalLB itself and the namespaces stay.',
    common: ['env-file', 'context', 'dry-run', 'timeout'],
    options: { purge: { type: 'boolean', help: 'also delete the acme.json volume' } },
  },
  import.meta.url,
  async (ctx) => {
    const [{ stepContext }, { removeIngress }, { withLease }] = await Promise.all([
      import('../lib/run/steps.ts'),
      import('../lib/steps/teardown.ts'),
      import('../lib/kube/lease.ts'),
    ])
    const stepCtx = stepContext(ctx)
    const result = await withLease(stepCtx, '99-teardown', () => removeIngress({ ...stepCtx, purge: ctx.args.purge === true }))
    ctx.log.summary(result.summary)
  },
)
