/**
 * Templates are YAML documents whose scalars (values and keys) may hold `${NAME}` placeholders.
 * Substitution happens on the parsed tree, inside one scalar at a time, so no value can add keys,
 * items or documents. A scalar that is exactly one placeholder takes the value's own type
 * (a port stays a number).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'

export type Vars = Record<string, string | number | boolean>

const MANIFESTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'manifests')

const PLACEHOLDER = /\$\{([A-Z0-9_]+)\}/g
const WHOLE = /^\$\{([A-Z0-9_]+)\}$/

// Each file parsed once per process (50 routes fill one template 50 times); filling builds new objects.
const parsed = new Map<string, unknown[]>()

/** Parses a template file from manifests/ and fills it; returns one plain object per document. */
export function renderTemplate(file: string, vars: Vars): Record<string, any>[] {
  let documents = parsed.get(file)
  if (!documents) {
    const text = fs.readFileSync(path.join(MANIFESTS_DIR, file), 'utf8')
    documents = YAML.parseAllDocuments(text).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`manifests/${file}: ${doc.errors[0].message}`)
      return doc.toJS()
    })
    parsed.set(file, documents)
  }
  return documents.map((doc) => fill(doc, vars, file))
}

function fill(node: unknown, vars: Vars, file: string): any {
  if (typeof node === 'string') return fillScalar(node, vars, file)
  if (Array.isArray(node)) return node.map((item) => fill(item, vars, file))
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(node)) {
      out[String(fillScalar(key, vars, file))] = fill(value, vars, file)
    }
    return out
  }
  return node
}

function fillScalar(text: string, vars: Vars, file: string): string | number | boolean {
  const lookup = (name: string) => {
    if (!(name in vars)) throw new Error(`manifests/${file}: no value for \${${name}}`)
    return vars[name]
  }
  const whole = WHOLE.exec(text)
  if (whole) return lookup(whole[1])
  return text.replace(PLACEHOLDER, (_, name: string) => String(lookup(name)))
}
