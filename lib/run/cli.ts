/**
 * Everything the entry scripts share: flags, --help, and the one place that turns errors into
 * messages and exit codes.
 *
 * Flags and configuration are checked before anything else loads: this module imports nothing
 * that reaches a cluster (cluster.ts reads the kubeconfig with yaml and sets up the API client),
 * so --help and configuration errors answer at once. Scripts import their step modules the same
 * way, with `await import()` inside the body.
 */
import module from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Cluster } from '../kube/cluster.ts'
import type { Config } from '../config/config.ts'
import { loadConfig } from '../config/load.ts'
import { didYouMean } from '../config/rules.ts'
import { DNS_FORMATS } from '../render/dns.ts'
import type { Args } from '../steps/context.ts'
import { EXIT, UserError } from '../base/errors.ts'
import { color, consoleLogger, type Logger } from '../base/log.ts'
import { enableTimings, formatTimings, recordSpan, timed, timingsEnabled } from '../base/timings.ts'

// Node keeps the compiled code of every module loaded from here on (yaml, the step modules, zx
// when helm runs) in this directory: a quarter less start-up CPU on later runs. The Makefile sets
// NODE_COMPILE_CACHE to the same directory, which also covers the script and this module.
module.enableCompileCache(path.join(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'node-compile-cache'))

type OptionSpec = {
  type: 'string' | 'boolean'
  help: string
  arg?: string
  short?: string
  /** The flag must be given; the example goes into the message. */
  required?: { example: string }
  /** Says what is wrong with a value (undefined when it is fine); checked with the other flags. */
  check?: (value: string) => string | undefined
}

export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  'env-file': { type: 'string', arg: 'PATH', help: 'env file to read (default: .env in the working directory)' },
  context: {
    type: 'string',
    arg: 'NAME',
    help: 'run against KUBE_CONTEXT even when it is not the current kubectl context (must equal KUBE_CONTEXT)',
  },
  'dry-run': { type: 'boolean', help: 'show what would change (server-side dry run and diff); change nothing' },
  timeout: {
    type: 'string',
    arg: 'SECONDS',
    help: 'bound on every wait (default: 300)',
    check: (value) => (/^[1-9]\d*$/.test(value) ? undefined : 'expected a whole number of seconds, e.g. --timeout 300'),
  },
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

/** 04 and run-all: the admin hosts as records for one DNS server, alone on stdout. */
export const DNS_OPTION: OptionSpec = {
  type: 'string',
  arg: 'FORMAT',
  help: `print only the admin hosts' records for your LAN's DNS on stdout, in one format: ${DNS_FORMATS.join(', ')}`,
  check: (value) =>
    (DNS_FORMATS as readonly string[]).includes(value) ? undefined : `expected one of ${DNS_FORMATS.join(', ')}${didYouMean(value, [...DNS_FORMATS])}`,
}

/** Every script takes these. */
const ALWAYS_OPTIONS: Record<string, OptionSpec> = {
  timings: { type: 'boolean', help: 'print where the time went (start-up, configuration, each API request and helm run) on stderr' },
}

export type ScriptSpec = {
  /** How the user runs it, e.g. `npx zx scripts/02-traefik.ts`. */
  command: string
  description: string
  /** Names from COMMON_OPTIONS this script takes. */
  common: (keyof typeof COMMON_OPTIONS)[]
  options?: Record<string, OptionSpec>
}

export type ScriptContext = {
  args: Args
  log: Logger
  /** Loads and validates configuration (exit 2 on problems). */
  config(): Config
  /** Connects to KUBE_CONTEXT, refusing any other (exit 2). */
  cluster(): Cluster
}

const EXIT_CODES_HELP =
  'Exit codes: 0 done, 1 failed, 2 configuration or usage error (nothing touched), 3 a precondition is missing (nothing touched).'

function helpText(spec: ScriptSpec): string {
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
  return { ...common, ...spec.options, ...ALWAYS_OPTIONS }
}

/** The script's own arguments, whether run by `node script.ts` or by `zx script.ts`. */
function scriptArgv(scriptUrl: string, argv: string[] = process.argv): string[] {
  const script = fileURLToPath(scriptUrl)
  const index = argv.findIndex((arg, i) => i > 0 && path.resolve(arg) === script)
  return argv.slice(index >= 0 ? index + 1 : 2)
}

function parseScriptArgs(spec: ScriptSpec, argv: string[]): Args {
  const options = allOptions(spec)
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } }
  for (const [name, o] of Object.entries(options)) parseOptions[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) }
  try {
    const { values, positionals } = parseArgs({ args: argv, options: parseOptions, strict: true, allowPositionals: true })
    if (positionals.length > 0) {
      throw new UserError(`unexpected argument ${JSON.stringify(positionals[0])}; see --help`, EXIT.config)
    }
    if (!values.help) checkValues(options, values as Args)
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

function checkValues(options: Record<string, OptionSpec>, values: Args): void {
  for (const [name, o] of Object.entries(options)) {
    const value = values[name]
    if ((value === undefined || value === '') && o.required) {
      throw new UserError(`--${name}${o.arg ? ` ${o.arg}` : ''} is required (e.g. --${name} ${o.required.example})`, EXIT.config)
    }
    const problem = typeof value === 'string' ? o.check?.(value) : undefined
    if (problem) throw new UserError(`--${name} ${value}: ${problem}`, EXIT.config)
  }
}

/** Runs a script body; the only place in the kit that sets an exit code. */
export async function runScript(
  spec: ScriptSpec,
  scriptUrl: string,
  body: (ctx: ScriptContext) => Promise<number | void>,
): Promise<void> {
  // Node's own start and the script's static imports, up to here.
  const entered = performance.now()
  const log = consoleLogger()
  let cluster: Cluster | undefined
  let explainClusterError: ((err: unknown, cluster: Cluster) => unknown) | undefined
  try {
    const args = parseScriptArgs(spec, scriptArgv(scriptUrl))
    if (args.help) {
      process.stdout.write(helpText(spec) + '\n')
      return
    }
    if (args.timings) enableTimings()
    recordSpan('start-up (node, the script and lib/run/cli.ts)', 0, entered)
    // Configuration first: every problem is reported before anything else loads or connects.
    let config: Config | undefined
    try {
      if (spec.common.includes('env-file')) config = loadConfig({ envFile: args['env-file'] as string | undefined })
    } finally {
      recordSpan('flags and configuration', entered)
    }
    let connect: typeof import('../kube/cluster.ts').connectCluster | undefined
    if (spec.common.includes('context')) {
      const clusterModule = await timed('import cluster.ts (kubeconfig and API client)', () => import('../kube/cluster.ts'))
      connect = clusterModule.connectCluster
      explainClusterError = clusterModule.explainClusterError
    }
    const ctx: ScriptContext = {
      args,
      log,
      config: () => {
        if (!config) throw new Error(`${spec.command} reads no configuration (it takes no --env-file)`)
        return config
      },
      cluster: () => {
        if (!connect) throw new Error(`${spec.command} reaches no cluster (it takes no --context)`)
        if (!cluster) {
          const start = performance.now()
          cluster = connect(ctx.config(), args.context as string | undefined)
          recordSpan(`connect (kubeconfig, context ${cluster.context})`, start)
        }
        return cluster
      },
    }
    process.exitCode = (await timed('script body (its modules load first)', () => body(ctx))) ?? EXIT.ok
  } catch (raw) {
    const err = cluster && explainClusterError ? explainClusterError(raw, cluster) : raw
    process.exitCode = reportError(err)
  } finally {
    if (timingsEnabled()) process.stderr.write(formatTimings() + '\n')
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
