/**
 * Everything the entry scripts share: flags, --help, and the one place that turns errors into
 * messages and exit codes.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig, didYouMean, type Config } from './config.ts'
import { connectCluster, explainClusterError, type Cluster } from './cluster.ts'
import { EXIT, UserError } from './errors.ts'
import { color, consoleLogger, type Logger } from './log.ts'

type OptionSpec = { type: 'string' | 'boolean'; help: string; arg?: string; short?: string }

export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  'env-file': { type: 'string', arg: 'PATH', help: 'env file to read (default: .env in the working directory)' },
  context: {
    type: 'string',
    arg: 'NAME',
    help: 'run against KUBE_CONTEXT even when it is not the current kubectl context (must equal KUBE_CONTEXT)',
  },
  'dry-run': { type: 'boolean', help: 'show what would change (server-side dry run and diff); change nothing' },
  timeout: { type: 'string', arg: 'SECONDS', help: 'bound on every wait (default: 300)' },
  adopt: {
    type: 'boolean',
    help: 'take over objects with the names the kit wants that this configuration did not create (refused by default)',
  },
  force: {
    type: 'boolean',
    help: `02: repair a release left pending-* even when it is recent (another helm run may still be at work)`,
  },
  'allow-downgrade': { type: 'boolean', help: '02: move the release to an older chart major (refused by default; helm rollback is the usual way back)' },
}

export type ScriptSpec = {
  /** How the user runs it, e.g. `npx zx scripts/02-traefik.ts`. */
  command: string
  description: string
  /** Names from COMMON_OPTIONS this script takes. */
  common: (keyof typeof COMMON_OPTIONS)[]
  options?: Record<string, OptionSpec>
}

export type Args = Record<string, string | boolean | undefined>

export type ScriptContext = {
  args: Args
  log: Logger
  /** Loads and validates configuration (exit 2 on problems). */
  config(): Config
  /** Connects to KUBE_CONTEXT, refusing any other (exit 2). */
  cluster(): Cluster
}

export const EXIT_CODES_HELP =
  'Exit codes: 0 done, 1 failed, 2 configuration or usage error (nothing touched), 3 a precondition is missing (nothing touched).'

export function helpText(spec: ScriptSpec): string {
  const options = allOptions(spec)
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`
    return [flag, o.help]
  })
  rows.push(['-h, --help', 'show this help'])
  const width = Math.max(...rows.map(([flag]) => flag.length))
  return [
    `Usage: ${spec.command} [options]`,
    '',
    spec.description,
    '',
    'Options:',
    ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`),
    '',
    'Configuration comes from the env file (see env.example); the environment overrides it.',
    EXIT_CODES_HELP,
  ].join('\n')
}

function allOptions(spec: ScriptSpec): Record<string, OptionSpec> {
  const common = Object.fromEntries(spec.common.map((name) => [name, COMMON_OPTIONS[name]]))
  return { ...common, ...spec.options }
}

/** The script's own arguments, whether run by `node script.ts` or by `zx script.ts`. */
export function scriptArgv(scriptUrl: string, argv: string[] = process.argv): string[] {
  const script = fileURLToPath(scriptUrl)
  const index = argv.findIndex((arg, i) => i > 0 && path.resolve(arg) === script)
  return argv.slice(index >= 0 ? index + 1 : 2)
}

export function parseScriptArgs(spec: ScriptSpec, argv: string[]): Args {
  const options = allOptions(spec)
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } }
  for (const [name, o] of Object.entries(options)) parseOptions[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) }
  try {
    const { values, positionals } = parseArgs({ args: argv, options: parseOptions, strict: true, allowPositionals: true })
    if (positionals.length > 0) {
      throw new UserError(`unexpected argument ${JSON.stringify(positionals[0])}; see --help`, EXIT.config)
    }
    return values as Args
  } catch (err) {
    if (err instanceof UserError) throw err
    const message = (err as Error).message
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)
    if (unknown) {
      const hint = didYouMean(unknown[1].replace(/^-+/, ''), [...Object.keys(parseOptions)])
      throw new UserError(`unknown option ${unknown[1]}${hint.replace('did you mean ', 'did you mean --')}; see --help`, EXIT.config)
    }
    throw new UserError(`${message}; see --help`, EXIT.config)
  }
}

/** Runs a script body; the only place in the kit that sets an exit code. */
export async function runScript(
  spec: ScriptSpec,
  scriptUrl: string,
  body: (ctx: ScriptContext) => Promise<number | void>,
): Promise<void> {
  const log = consoleLogger()
  let cluster: Cluster | undefined
  try {
    const args = parseScriptArgs(spec, scriptArgv(scriptUrl))
    if (args.help) {
      process.stdout.write(helpText(spec) + '\n')
      return
    }
    let config: Config | undefined
    const ctx: ScriptContext = {
      args,
      log,
      config: () => (config ??= loadConfig({ envFile: args['env-file'] as string | undefined })),
      cluster: () => (cluster ??= connectCluster(ctx.config(), args.context as string | undefined)),
    }
    process.exitCode = (await body(ctx)) ?? EXIT.ok
  } catch (raw) {
    const err = cluster ? explainClusterError(raw, cluster) : raw
    process.exitCode = reportError(err)
  }
}

export function reportError(err: unknown): number {
  if (err instanceof UserError) {
    process.stderr.write(`${color.red('ERROR:')} ${err.message}\n`)
    for (const line of err.details) process.stderr.write(`  - ${line}\n`)
    return err.exitCode
  }
  const e = err as Error
  process.stderr.write(`${color.red('ERROR:')} ${e?.message ?? String(err)}\n`)
  if (process.env.DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`)
  else process.stderr.write('  (unexpected error; rerun with DEBUG=1 to see where it came from)\n')
  return EXIT.failed
}
