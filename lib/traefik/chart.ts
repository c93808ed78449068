/**
 * Which Traefik chart, and which shape of values it expects. The kit's intent (two Services, four
 * entrypoints, ACME, a volume, no phone-home, Recreate, an internal dashboard) is written once, in the
 * newest shape (manifests/02-traefik-values.yaml); `valuesForShape` rewrites it for older majors.
 *
 * The shape boundaries, from the charts' values schemas, templates and changelogs (see README,
 * "Traefik chart versions"):
 * - 33-35: `globalArguments` carries the phone-home flags; per-entrypoint TLS is `ports.X.tls`;
 *   Service type is `service.type` / `additionalServices.X.type`.
 * - 36-38: `globalArguments` is gone (silently ignored): `global.checkNewVersion` /
 *   `global.sendAnonymousUsage` instead. Up to 37.0.x `checkNewVersion: false` renders nothing, so
 *   Traefik's default (on) applies (traefik-helm-chart#1449, fixed in 37.1.0): the flag goes into
 *   `additionalArguments` there. 38 has `ports.X.http`, but ignores `http.tls` in it.
 * - 39: per-entrypoint TLS and middlewares moved to `ports.X.http.tls` / `.middlewares`; the schema rejects `ports.X.tls`,
 *   `globalArguments` and any unknown top-level key.
 * - 40-41: Service type moved to `service.spec.type` / `additionalServices.X.spec.type` (the old keys
 *   are ignored: the internal Service would silently become ClusterIP).
 * Unchanged across 33-41: `ports.X.asDefault`, `ports.X.expose`, `service.spec` passed through to
 * every Service, persistence, certificatesResolvers, updateStrategy, initContainers, the dashboard.
 */
import fs from 'node:fs'
import path from 'node:path'
import parseSemver from 'semver/functions/parse.js'
import YAML from 'yaml'
import { CHART_SHAPES, type ChartShape, type Config } from '../config/config.ts'
import { commandFailed, EXIT, UserError } from '../base/errors.ts'

/** The chart versions the kit has values for: majors 33 to 41. */
const SUPPORTED_MAJORS = { min: 33, max: 41 } as const
const SUPPORTED_RANGE = `${SUPPORTED_MAJORS.min}.0.0 to ${SUPPORTED_MAJORS.max}.x`

export type ChartVersion = { major: number; minor: number; patch: number; text: string }

/** A chart version (semantic version, a leading `v` allowed, as helm takes it), or undefined. */
export function parseChartVersion(text: string): ChartVersion | undefined {
  const v = parseSemver(text.trim())
  return v ? { major: v.major, minor: v.minor, patch: v.patch, text: text.trim().replace(/^v/, '') } : undefined
}

/** The version in helm's `<name>-<version>` (chart names may hold dashes, and so may versions). */
export function chartVersionOf(nameVersion: string): ChartVersion | undefined {
  const parts = nameVersion.split('-')
  for (let i = 1; i < parts.length; i++) {
    const version = parseChartVersion(parts.slice(i).join('-'))
    if (version) return version
  }
  return undefined
}

/** The values shape a chart major expects, or undefined outside the supported range. */
export function shapeForMajor(major: number): ChartShape | undefined {
  if (major < SUPPORTED_MAJORS.min || major > SUPPORTED_MAJORS.max) return undefined
  if (major <= 35) return '33-35'
  if (major <= 38) return '36-38'
  if (major === 39) return '39'
  return '40-41'
}

/** The chart the configuration selects: its name and version, and the values shape for it. */
export type ChartTarget = {
  name: string
  version: string
  /** `<name>-<version>`, as helm list shows it. */
  ref: string
  shape: ChartShape
  /** Where the version came from, for messages. */
  versionFrom: string
}

/**
 * Decides the chart version (TRAEFIK_CHART_VERSION for repository and OCI charts; the chart's own
 * Chart.yaml for a local directory or .tgz) and its values shape. A version outside the supported
 * range is refused unless TRAEFIK_CHART_SHAPE names the shape to use anyway. Nothing is contacted
 * but the local chart, so render, --dry-run and the real run decide the same way.
 */
export async function resolveChart(config: Pick<Config, 'traefikChart' | 'traefikChartVersion' | 'traefikChartShape'>): Promise<ChartTarget> {
  const source = config.traefikChart
  let name: string
  let version: string
  let versionFrom: string
  if (source.kind === 'local') {
    const chart = await readLocalChartYaml(source.ref)
    name = chart.name
    version = String(chart.version)
    versionFrom = `${path.basename(source.ref)}'s Chart.yaml`
  } else {
    name = source.ref.split('/').pop() ?? source.ref
    version = config.traefikChartVersion
    versionFrom = 'TRAEFIK_CHART_VERSION'
  }
  return { name, version, ref: `${name}-${version}`, shape: chartShape(version, versionFrom, config.traefikChartShape), versionFrom }
}

export function chartShape(version: string, versionFrom: string, override: ChartShape | 'auto'): ChartShape {
  const parsed = parseChartVersion(version)
  const shape = parsed ? shapeForMajor(parsed.major) : undefined
  if (override !== 'auto') return override
  if (shape) return shape
  throw new UserError(
    `${versionFrom}: Traefik chart ${version} is outside the versions this kit knows (${SUPPORTED_RANGE}); nothing was changed`,
    EXIT.config,
    [
    `set TRAEFIK_CHART_VERSION to a supported version (the default is 41.3.0), or, to try ${version} anyway, set TRAEFIK_CHART_SHAPE to the values shape to write (${CHART_SHAPES.join(', ')}; for a newer chart ${CHART_SHAPES.at(-1)}) and check the result with --dry-run first`,
    ],
  )
}

async function readLocalChartYaml(ref: string): Promise<{ name: string; version: string }> {
  let text: string
  if (fs.statSync(ref).isDirectory()) {
    text = fs.readFileSync(path.join(ref, 'Chart.yaml'), 'utf8')
  } else {
    // Loaded here, not at the top: config.ts imports this module, and --help must stay light.
    const { $ } = await import('zx')
    const out = await $({ nothrow: true, quiet: true })`helm show chart ${ref}`
    if (out.exitCode !== 0) throw commandFailed(`helm show chart ${ref}`, out)
    text = out.stdout
  }
  return YAML.parse(text) as { name: string; version: string }
}

/**
 * Rewrites values written in the newest shape (40-41) into the shape `shape` expects, for chart
 * `version` when known. Returns a new object; the input is not changed.
 */
export function valuesForShape(values: Record<string, any>, shape: ChartShape, version?: string): Record<string, any> {
  const out = structuredClone(values)
  if (shape === '40-41') return out
  // 39 and older: the Service type is a key of its own, not part of the passed-through spec.
  moveServiceType(out.service)
  for (const extra of Object.values(out.service?.additionalServices ?? {})) moveServiceType(extra as Record<string, any>)
  if (shape === '39') return out
  // 38 and older: per-entrypoint TLS and middlewares are `ports.X.tls` and `ports.X.middlewares`.
  for (const port of Object.values(out.ports ?? {}) as Record<string, any>[]) {
    for (const key of ['tls', 'middlewares']) {
      if (port?.http?.[key] === undefined) continue
      port[key] = port.http[key]
      delete port.http[key]
    }
    if (port?.http && Object.keys(port.http).length === 0) delete port.http
  }
  if (shape === '36-38') {
    const v = version ? parseChartVersion(version) : undefined
    const checkFlagIgnored = !v || v.major === 36 || (v.major === 37 && v.minor === 0)
    if (checkFlagIgnored && out.global?.checkNewVersion === false) {
      out.additionalArguments = [...(out.additionalArguments ?? []), '--global.checknewversion=false']
    }
    return out
  }
  // 35 and older: the phone-home switches are command-line flags in `globalArguments`.
  const global = out.global ?? {}
  out.globalArguments = [
    `--global.checknewversion=${global.checkNewVersion === true}`,
    `--global.sendanonymoususage=${global.sendAnonymousUsage === true}`,
  ]
  delete global.checkNewVersion
  delete global.sendAnonymousUsage
  if (Object.keys(global).length === 0) delete out.global
  return out
}

function moveServiceType(service: Record<string, any> | undefined): void {
  if (!service?.spec || service.spec.type === undefined) return
  service.type = service.spec.type
  delete service.spec.type
  if (Object.keys(service.spec).length === 0) delete service.spec
}
