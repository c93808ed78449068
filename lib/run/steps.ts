/** The ordered steps, and how a script or run-all gives each its context. */
import type { ScriptContext } from './cli.ts'
import { EXIT, UserError } from '../base/errors.ts'
import { type HeldLease, withLease } from '../kube/lease.ts'
import { ensureAddressPools } from '../steps/metallb.ts'
import { applyInternalRoutes } from '../steps/routes.ts'
import { type Args, DEFAULT_TIMEOUT_SECONDS, type StepContext, type StepResult } from '../steps/context.ts'
import { installTraefik, traefikPreflight } from '../steps/traefik.ts'
import { formatReport, type ProbeFlags, verifyIngress } from '../steps/verify.ts'
import type { DnsFormat } from '../render/dns.ts'

export type StepDefinition = {
  id: string
  name: string
  run: (ctx: StepContext, args: Args) => Promise<StepResult>
  /** Steps that write hold the lease (lib/kube/lease.ts) for their run. */
  writes?: boolean
  /** Checks of this machine (tools, chart) that need no cluster: they run before the lease is taken. */
  preflight?: (ctx: StepContext) => Promise<unknown>
}

export const STEPS: StepDefinition[] = [
  { id: '01', name: '01-metallb', run: ensureAddressPools, writes: true },
  { id: '02', name: '02-traefik', run: installTraefik, writes: true, preflight: traefikPreflight },
  { id: '03', name: '03-internal-routes', run: applyInternalRoutes, writes: true },
  {
    id: '04',
    name: '04-verify',
    run: async (ctx, args) => {
      const result = await verifyIngress({ ...ctx, ...probeFlagsFrom(args) })
      const dns = args.dns as DnsFormat | undefined
      if (args.json) process.stdout.write(JSON.stringify(result.report, null, 2) + '\n')
      else process.stderr.write(formatReport(result.report, dns) + '\n')
      // Printed whatever the verdict: the records follow from the configuration alone.
      if (dns) process.stdout.write(result.report.dns[dns])
      return result
    },
  },
]

export function findStep(idOrName: string): StepDefinition {
  const step = STEPS.find((s) => s.id === idOrName || s.name === idOrName || s.id === idOrName.padStart(2, '0'))
  if (!step) {
    throw new UserError(`no step ${JSON.stringify(idOrName)}; steps are ${STEPS.map((s) => `${s.id} (${s.name})`).join(', ')}`, EXIT.config)
  }
  return step
}

/** --timeout was checked with the other flags (lib/run/cli.ts, COMMON_OPTIONS.timeout). */
function timeoutFrom(args: Args): number {
  return args.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(args.timeout)
}

/** --json and --dns put 04's output on stdout; the summary lines then go to stderr. */
export function stdoutTaken(args: Args): boolean {
  if (args.json && args.dns) {
    throw new UserError('--json and --dns both print on stdout: drop one of them (the --json report carries every format under "dns")', EXIT.config)
  }
  return args.json === true || typeof args.dns === 'string'
}

export function probeFlagsFrom(args: Args): ProbeFlags {
  if (args['no-probe'] && args['require-probe']) {
    throw new UserError('--no-probe and --require-probe contradict each other: drop one of them', EXIT.config)
  }
  return { probe: !args['no-probe'], matrix: !args['no-probe'] && !args['no-matrix'], requireProbe: args['require-probe'] === true }
}

/** Builds the step context: flags first, then configuration, then the (guarded) cluster. */
export function stepContext(ctx: ScriptContext): StepContext {
  const timeoutSeconds = timeoutFrom(ctx.args)
  // Checked here so that run-all refuses contradicting flags before 01 changes anything.
  probeFlagsFrom(ctx.args)
  stdoutTaken(ctx.args)
  const config = ctx.config()
  return { config, cluster: ctx.cluster(), log: ctx.log, dryRun: ctx.args['dry-run'] === true, timeoutSeconds }
}

/** Runs one step as a script: its summary line on stdout, exit 1 if what it checks does not hold. */
export async function runSingleStep(id: string, ctx: ScriptContext): Promise<number> {
  const step = findStep(id)
  const stepCtx = stepContext(ctx)
  await step.preflight?.(stepCtx)
  const run = (lease?: HeldLease) => step.run({ ...stepCtx, lease }, ctx.args)
  const result = step.writes ? await withLease(stepCtx, step.name, run) : await run()
  // With --json or --dns, stdout carries only the report or the records.
  if (stdoutTaken(ctx.args)) process.stderr.write(`${result.summary}\n`)
  else ctx.log.summary(result.summary)
  return result.ok ? EXIT.ok : EXIT.failed
}
