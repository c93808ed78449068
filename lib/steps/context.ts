/** What every step gets and returns. */
import type { Cluster } from '../kube/cluster.ts'
import type { HeldLease } from '../kube/lease.ts'
import type { Config } from '../config/config.ts'
import type { Logger } from '../base/log.ts'

/** The script's flags, as parsed by lib/run/cli.ts. */
export type Args = Record<string, string | boolean | undefined>

export type StepContext = {
  config: Config
  cluster: Cluster
  log: Logger
  dryRun: boolean
  /** Bound on every wait of the step. */
  timeoutSeconds: number
  /** The kit's lease, when the run holds it (not in a dry run): where a step notes what it leaves half-done. */
  lease?: HeldLease
}

export type StepResult = {
  /** false when the step ran but what it checks does not hold (04-verify). */
  ok: boolean
  /** One line: what was created, changed, or left unchanged. */
  summary: string
}

export const DEFAULT_TIMEOUT_SECONDS = 300
