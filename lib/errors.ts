/** Errors the user can act on. Each carries the exit code the one handler in cli.ts uses. */

export const EXIT = {
  ok: 0,
  /** A step ran and something did not hold (verify failed, the cluster refused a change). */
  failed: 1,
  /** Bad configuration or usage, or a cluster the configuration does not allow. Nothing was touched. */
  config: 2,
  /** Something the step needs is missing from the cluster or the machine. Nothing was touched. */
  precondition: 3,
} as const

export class UserError extends Error {
  exitCode: number
  /** Lines printed under the message, e.g. one per configuration problem. */
  details: string[]
  constructor(message: string, exitCode: number = EXIT.failed, details: string[] = []) {
    super(message)
    this.name = 'UserError'
    this.exitCode = exitCode
    this.details = details
  }
}

export class ConfigError extends UserError {
  constructor(problems: string[]) {
    super(
      `configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:`,
      EXIT.config,
      problems,
    )
    this.name = 'ConfigError'
  }
}

export class PreconditionError extends UserError {
  constructor(message: string, details: string[] = []) {
    super(message, EXIT.precondition, details)
    this.name = 'PreconditionError'
  }
}
