/**
 * Records Traefik's own answers for the rule table of test/traefik-rule-cases.ts into
 * test/recorded/traefik-rules.json: whether Traefik's parser accepts each rule, whether its muxer
 * matches some request of a small grid for each host, and what Go's regexp package says of each
 * regexp. The unit tests of lib/traefik/rule.ts and lib/traefik/go-regexp.ts check themselves against it.
 *
 *   node test/recorded/traefik-rules.ts
 *
 * Needs Go; builds traefik-rules-oracle/main.go against the Traefik module (from the Go module
 * proxy, or the module cache when the test cluster's Traefik was built), in the cache directory.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { oracleInput } from '../traefik-rule-cases.ts'

/** The Traefik release the test cluster runs (test/cluster README: the newest v3.6 the proxy builds). */
const TRAEFIK_MODULE_VERSION = 'v3.6.12'
const MODULE = 'github.com/traefik/traefik/v3'

function run(cmd: string, args: string[], cwd: string, input?: string): string {
  const r = spawnSync(cmd, args, { cwd, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] })
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`)
  return r.stdout
}

/** Traefik's own replace and exclude directives (its forks of gorilla/mux and others), which a module depending on it must repeat. */
function inheritedDirectives(goMod: string): string[] {
  const lines: string[] = []
  let block: string | undefined
  for (const raw of goMod.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim()
    if (block) {
      if (line === ')') block = undefined
      else if (line) lines.push(`${block} ${line}`)
      continue
    }
    const m = /^(replace|exclude)\s*(\(?)\s*(.*)$/.exec(line)
    if (!m) continue
    if (m[2] === '(') block = m[1]
    else lines.push(`${m[1]} ${m[3]}`)
  }
  return lines
}

{
  const root = path.resolve(import.meta.dirname, '..', '..')
  const cache = process.env.HOMELAB_INGRESS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'homelab-ingress')
  const dir = path.join(cache, 'src', `traefik-rules-oracle-${TRAEFIK_MODULE_VERSION}`)
  fs.mkdirSync(dir, { recursive: true })

  const info = JSON.parse(run('go', ['mod', 'download', '-json', `${MODULE}@${TRAEFIK_MODULE_VERSION}`], dir))
  const directives = inheritedDirectives(fs.readFileSync(info.GoMod, 'utf8'))
  const goMod = [
    '// Written by test/recorded/traefik-rules.ts. Do not edit.',
    'module homelab-ingress.test/traefik-rules-oracle',
    '',
    'go 1.25.0',
    '',
    `require ${MODULE} ${TRAEFIK_MODULE_VERSION}`,
    '',
    ...directives,
    '',
  ].join('\n')
  // go mod tidy adds the dependencies to go.mod; keep its work unless the Traefik version changed.
  const existing = fs.existsSync(path.join(dir, 'go.mod')) ? fs.readFileSync(path.join(dir, 'go.mod'), 'utf8') : ''
  if (!existing.includes(`require ${MODULE} ${TRAEFIK_MODULE_VERSION}\n`)) fs.writeFileSync(path.join(dir, 'go.mod'), goMod)
  fs.copyFileSync(path.join(import.meta.dirname, 'traefik-rules-oracle', 'main.go'), path.join(dir, 'main.go'))
  console.error(`building the oracle in ${dir} (the first build takes minutes)`)
  run('go', ['mod', 'tidy'], dir)
  const input = oracleInput()
  const answers = JSON.parse(run('go', ['run', '.'], dir, JSON.stringify(input)))
  const data = {
    note: `Answers of Traefik ${TRAEFIK_MODULE_VERSION} (pkg/muxer/http with its request decorator) and of Go's regexp package (${run('go', ['env', 'GOVERSION'], dir).trim()}) for the cases of test/traefik-rule-cases.ts. Recorded by test/recorded/traefik-rules.ts.`,
    input,
    answers,
  }
  fs.writeFileSync(path.join(root, 'test', 'recorded', 'traefik-rules.json'), JSON.stringify(data, null, 1) + '\n')
  console.error('wrote test/recorded/traefik-rules.json')
}
