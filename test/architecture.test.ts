/**
 * The tree matches ARCHITECTURE.md: each lib/ folder is a layer, a module imports only from its own
 * layer or below, steps never import each other, and no import cycle exists (type-only imports
 * included). Read from the source text, so a new import is judged the moment it is written.
 */
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

/** Lowest first; the same order as ARCHITECTURE.md. */
export const LAYERS = ['base', 'config', 'kube', 'helm', 'traefik', 'render', 'verify', 'steps', 'run'] as const
/** Shared by every step; the only file of lib/steps/ another step may import. */
const STEP_SHARED = 'lib/steps/context.ts'

const ROOT = path.join(import.meta.dirname, '..')

function libFiles(dir = path.join(ROOT, 'lib')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? libFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.relative(ROOT, path.join(dir, e.name))] : [],
  )
}

/** Every relative module a file names in `import ... from`, `export ... from` or `import()`. */
export function importsOf(file: string, text = fs.readFileSync(path.join(ROOT, file), 'utf8')): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)].map((m) => m[2])
  return [...new Set(specs.map((s) => path.normalize(path.join(path.dirname(file), s))))]
}

function layerOf(file: string): number {
  const dir = file.split('/')[1]
  const i = LAYERS.indexOf(dir as (typeof LAYERS)[number])
  if (i < 0) throw new Error(`${file} is in no layer (lib/<layer>/...; layers: ${LAYERS.join(', ')})`)
  return i
}

const files = libFiles()
const graph = new Map(files.map((f) => [f, importsOf(f)]))

test('every lib/ module sits in a layer folder', () => {
  for (const f of files) layerOf(f)
})

test('no import runs up a layer', () => {
  const up = [...graph].flatMap(([f, deps]) => deps.filter((d) => layerOf(d) > layerOf(f)).map((d) => `${f} -> ${d}`))
  assert.equal(up, [])
})

test('no step imports another step (shared symbols live in a lower layer or steps/context.ts)', () => {
  const sideways = [...graph]
    .filter(([f]) => f.startsWith('lib/steps/'))
    .flatMap(([f, deps]) => deps.filter((d) => d.startsWith('lib/steps/') && d !== STEP_SHARED).map((d) => `${f} -> ${d}`))
  assert.equal(sideways, [])
})

test('no import cycle, type-only imports included', () => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const visit = (f: string, trail: string[]) => {
    if (state.get(f) === 'done') return
    if (state.get(f) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(f)), f].join(' -> '))
      return
    }
    state.set(f, 'open')
    for (const d of graph.get(f) ?? []) visit(d, [...trail, f])
    state.set(f, 'done')
  }
  for (const f of files) visit(f, [])
  assert.equal(cycles, [])
})

test('the reader sees type-only and dynamic imports too', () => {
  const seen = importsOf('lib/x/a.ts', "import type { A } from './b.ts'\nconst m = await import('../y/c.ts')\nexport { d } from './d.ts'\n")
  assert.equal(seen, ['lib/x/b.ts', 'lib/y/c.ts', 'lib/x/d.ts'])
})

test.run()
