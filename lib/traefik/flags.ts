/**
 * Traefik's command-line arguments as Traefik reads them: `--name=value`, or `--name` alone for
 * true; names ignore case (`--entryPoints.web.address` = `--entrypoints.web.address`); a flag given
 * twice takes its last value. The one reader of a running Traefik's arguments: 04's checks and the
 * route audit both ask it.
 */

export type EntrypointFlags = { name: string; address?: string; asDefault?: boolean }

export type TraefikFlags = {
  /** The value of a flag (`'true'` for a bare flag), undefined when absent. */
  value(name: string): string | undefined
  /** A boolean flag: true for a bare flag or `=true` (any case), false for any other value, undefined when absent. */
  bool(name: string): boolean | undefined
  /** Every `--entryPoints.NAME.address` / `.asDefault`, by lower-case entrypoint name, with the name as written. */
  entrypoints(): Map<string, EntrypointFlags>
}

export function traefikFlags(args: string[]): TraefikFlags {
  // lower-case name -> the name as written, and the value (undefined for a bare flag)
  const flags = new Map<string, { name: string; value?: string }>()
  for (const arg of args) {
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(arg)
    if (m) flags.set(m[1].toLowerCase(), { name: m[1], value: m[2] })
  }
  const value = (name: string) => {
    const flag = flags.get(name.toLowerCase())
    return flag && (flag.value ?? 'true')
  }
  return {
    value,
    bool(name) {
      const v = value(name)
      return v === undefined ? undefined : v.toLowerCase() === 'true'
    },
    entrypoints() {
      const found = new Map<string, EntrypointFlags>()
      for (const [key, flag] of flags) {
        const m = /^entrypoints\.([^.]+)\.(asdefault|address)$/.exec(key)
        if (!m) continue
        const entry = found.get(m[1]) ?? { name: flag.name.split('.')[1] }
        if (m[2] === 'address') entry.address = flag.value ?? ''
        else entry.asDefault = (flag.value ?? 'true').toLowerCase() === 'true'
        found.set(m[1], entry)
      }
      return found
    },
  }
}
