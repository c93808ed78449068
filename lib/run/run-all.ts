/** All steps in order, in one process; stops at the first failure and says how to resume. */
import { type ScriptContext, reportError } from './cli.ts'
import { explainClusterError } from '../kube/cluster.ts'
import { EXIT } from '../base/errors.ts'
import { withLease } from '../kube/lease.ts'
import { findStep, STEPS, stdoutTaken, stepContext } from './steps.ts'

export async function runAll(ctx: ScriptContext): Promise<number> {
  const first = ctx.args.from === undefined ? STEPS[0] : findStep(String(ctx.args.from))
  const stepCtx = stepContext(ctx)
  // One lease for the whole run: no other kit run interleaves between its steps.
  return withLease(stepCtx, 'run-all', (lease) => runSteps(ctx, first, { ...stepCtx, lease }))
}

async function runSteps(ctx: ScriptContext, first: (typeof STEPS)[number], stepCtx: ReturnType<typeof stepContext>): Promise<number> {
  const todo = STEPS.slice(STEPS.indexOf(first)).filter((s) => !(stepCtx.dryRun && s.id === '04'))
  const summaries: string[] = []
  for (const step of todo) {
    let code: number = EXIT.ok
    try {
      const result = await step.run(stepCtx, ctx.args)
      summaries.push(result.summary)
      if (stdoutTaken(ctx.args)) process.stderr.write(`${result.summary}\n`)
      else ctx.log.summary(result.summary)
      if (!result.ok) code = EXIT.failed
    } catch (err) {
      code = reportError(explainClusterError(err, stepCtx.cluster))
    }
    if (code !== EXIT.ok) {
      process.stderr.write(
        `\nStep ${step.name} failed. Fix the cause above, then resume with:\n` +
          `  make from STEP=${step.id}\n` +
          `  (or: npx zx scripts/run-all.ts --from ${step.id})\n`,
      )
      return code
    }
  }
  return EXIT.ok
}
