/**
 * The rule parser and host judgement (lib/traefik/rule.ts) and the Go regexp translation
 * (lib/traefik/go-regexp.ts), on the table of test/traefik-rule-cases.ts, checked against what Traefik
 * v3.6.12 and Go's regexp package answered for the same table (test/recorded/traefik-rules.json).
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { translateGoRegexp } from '../lib/traefik/go-regexp.ts'
import { ingressHostCovers, judgeHost, parseRule, ruleServesHost, type HostVerdict, type RuleSyntax } from '../lib/traefik/rule.ts'
import { ADMIN, oracleInput, RULE_CASES } from './traefik-rule-cases.ts'

const recorded = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'recorded', 'traefik-rules.json'), 'utf8'))
type RuleAnswer = { rule: string; syntax: string; accepted: boolean; error?: string; matches?: Record<string, boolean> }
type RegexpAnswer = { pattern: string; compiles: boolean; error?: string; matches?: Record<string, boolean> }
const ruleAnswers: RuleAnswer[] = recorded.answers.rules
const regexpAnswers: RegexpAnswer[] = recorded.answers.regexps
const syntaxOf = (a: { syntax: string }): RuleSyntax => (a.syntax === 'v2' ? 'v2' : 'v3')
const show = (v: HostVerdict) => (v.verdict === 'yes' ? (v.catchAll ? 'catch-all' : 'yes') : v.verdict === 'unknown' && v.traefikRejects ? 'rejected' : v.verdict)

// ---
const recording = suite('traefik-rule: the recording')

recording('was made from the current table (else: node test/recorded/traefik-rules.ts)', () => {
  assert.equal(recorded.input, oracleInput())
})

recording.run()

// ---
const parsing = suite('traefik-rule: parseRule accepts exactly what Traefik accepts')

parsing('every rule of the table', () => {
  const disagreements = ruleAnswers
    .map((a) => ({ a, parsed: parseRule(a.rule, syntaxOf(a)) }))
    .filter(({ a, parsed }) => parsed.ok !== a.accepted)
    .map(({ a, parsed }) => `${JSON.stringify(a.rule)} (${a.syntax || 'v3'}): Traefik ${a.accepted ? 'accepts' : `rejects (${a.error})`}, parseRule ${parsed.ok ? 'accepts' : `rejects (${parsed.error})`}`)
  assert.equal(disagreements, [])
})

parsing("the kit's own dashboard rule parses into its tree", () => {
  const parsed = parseRule('Host(`traefik.home.example`) && (PathPrefix(`/dashboard`) || PathPrefix(`/api`))')
  assert.equal(parsed, {
    ok: true,
    tree: {
      kind: 'and',
      left: { kind: 'matcher', name: 'Host', args: ['traefik.home.example'], syntax: 'v3' },
      right: {
        kind: 'or',
        left: { kind: 'matcher', name: 'PathPrefix', args: ['/dashboard'], syntax: 'v3' },
        right: { kind: 'matcher', name: 'PathPrefix', args: ['/api'], syntax: 'v3' },
      },
    },
  })
})

parsing('errors say what is wrong', () => {
  const error = (rule: string) => {
    const parsed = parseRule(rule)
    return parsed.ok ? 'accepted' : parsed.error
  }
  assert.match(error("Host('a.example')"), /single quotes/)
  assert.match(error('Host(`a`)\n&& Path(`/`)'), /line break at 9: Go ends the rule there/)
  assert.match(error('Host(`a`, `b`)'), /Host: takes 1 argument, got 2 \(several hosts in one matcher is v2 syntax/)
  assert.match(error('hostRegexp(`a`)'), /unsupported function: hostRegexp/)
  assert.match(error('HostRegexp(`(`)'), /invalid regexp "\(": missing closing \)/)
})

parsing.run()

// ---
const judging = suite('traefik-rule: ruleServesHost')

judging('the table: each rule judged for the admin host', () => {
  const wrong = RULE_CASES.map((c) => ({ c, got: show(ruleServesHost(c.rule, ADMIN, c.syntax)) }))
    .filter(({ c, got }) => got !== c.expect)
    .map(({ c, got }) => `${JSON.stringify(c.rule)} (${c.why}): expected ${c.expect}, got ${got}`)
  assert.equal(wrong, [])
})

judging("never 'no' where Traefik's muxer matched a request for the host, never 'yes' for a rule Traefik rejects", () => {
  const wrong: string[] = []
  for (const a of ruleAnswers) {
    for (const host of recorded.input.hosts as string[]) {
      const verdict = ruleServesHost(a.rule, host, syntaxOf(a))
      if (a.accepted && a.matches![host] && verdict.verdict === 'no') wrong.push(`${JSON.stringify(a.rule)} for ${host}: Traefik matched, judged no`)
      if (!a.accepted && verdict.verdict === 'yes') wrong.push(`${JSON.stringify(a.rule)} for ${host}: Traefik rejects it, judged yes`)
    }
  }
  assert.equal(wrong, [])
})

judging("'yes' where Traefik matched nothing only for the known over-reports", () => {
  // A host name is judged with and without a trailing dot (a client may send either), so Traefik's
  // answer for the name is its answer for either form. Host(`*...`) is a wildcard from v3.7 on
  // (v3.6.12 compares it literally); Query(`k`) wants an empty value, which the grid does not send.
  const overReports = new Set(['Host(`*.home.example`)', 'Host(`*`)', 'Query(`debug`) && Host(`argocd.home.example`)'])
  const extra: string[] = []
  for (const a of ruleAnswers.filter((x) => x.accepted && !overReports.has(x.rule))) {
    for (const host of recorded.input.hosts as string[]) {
      const bare = host.replace(/\.$/, '')
      const traefikMatchedName = a.matches![bare] || a.matches![`${bare}.`]
      if (ruleServesHost(a.rule, host, syntaxOf(a)).verdict === 'yes' && !traefikMatchedName) extra.push(`${a.rule} for ${host}`)
    }
  }
  assert.equal(extra, [])
})

judging('a catch-all matched the unrouted host in Traefik too', () => {
  for (const a of ruleAnswers.filter((x) => x.accepted)) {
    const verdict = ruleServesHost(a.rule, ADMIN, syntaxOf(a))
    if (verdict.verdict === 'yes' && verdict.catchAll && !a.rule.startsWith('Host(`*')) assert.ok(a.matches!['unrouted-host.invalid'], a.rule)
  }
})

judging('unknown says why, and whether Traefik rejects the rule', () => {
  assert.equal(ruleServesHost('HostRegexp(`^\\pL+\\.home\\.example$`)', ADMIN), {
    verdict: 'unknown',
    reason: 'HostRegexp(`^\\pL+\\.home\\.example$`): Unicode classes (\\p, \\P) are not translated',
    traefikRejects: false,
  })
  const rejected = ruleServesHost('Host(`argocd.home.example`', ADMIN)
  assert.is(rejected.verdict === 'unknown' && rejected.traefikRejects, true)
  assert.match((rejected as { reason: string }).reason, /^Traefik rejects this rule: expected , or \) in the arguments of Host/)
})

judging('hosts compare case-insensitively, a trailing dot ignored', () => {
  assert.is(show(ruleServesHost('Host(`Argocd.Home.Example`)', 'ARGOCD.home.example.')), 'yes')
})

judging('judgeHost takes a conjunction of a child rule and its parent rule', () => {
  const child = parseRule('PathPrefix(`/ui`)')
  const parent = parseRule('Host(`argocd.home.example`)')
  assert.ok(child.ok && parent.ok)
  if (!child.ok || !parent.ok) return
  assert.is(show(judgeHost(child.tree, ADMIN)), 'catch-all')
  assert.is(show(judgeHost({ kind: 'and', left: child.tree, right: parent.tree }, ADMIN)), 'yes')
  assert.is(show(judgeHost({ kind: 'and', left: child.tree, right: parent.tree }, 'blog.example.com')), 'no')
})

judging('a rule with too many matchers is not searched', () => {
  const rule = Array.from({ length: 15 }, (_, i) => `Path(\`/p${i}\`)`).join(' || ')
  assert.is(show(ruleServesHost(`Host(\`argocd.home.example\`) && (${rule})`, ADMIN)), 'unknown')
})

judging.run()

// ---
const ingressHosts = suite('traefik-rule: ingressHostCovers')

ingressHosts('exact hosts, case-insensitively; a wildcard covers one label', () => {
  assert.ok(ingressHostCovers('argocd.home.example', 'ARGOCD.home.example'))
  assert.ok(ingressHostCovers('*.home.example', 'argocd.home.example'))
  assert.not.ok(ingressHostCovers('*.home.example', 'home.example'))
  assert.not.ok(ingressHostCovers('*.example', 'argocd.home.example'))
  assert.not.ok(ingressHostCovers('longhorn.home.example', 'argocd.home.example'))
})

ingressHosts.run()

// ---
const regexps = suite('go-regexp: translateGoRegexp agrees with Go')

regexps('every pattern of the table: same compile verdict, same matches', () => {
  const wrong: string[] = []
  for (const a of regexpAnswers) {
    const t = translateGoRegexp(a.pattern)
    if (!a.compiles) {
      if (t.ok || t.kind !== 'invalid') wrong.push(`${JSON.stringify(a.pattern)}: Go says ${a.error}, translation ${t.ok ? 'succeeded' : t.kind}`)
      continue
    }
    if (!t.ok) {
      if (t.kind === 'invalid') wrong.push(`${JSON.stringify(a.pattern)}: Go compiles it, translation says invalid (${t.reason})`)
      continue
    }
    for (const [subject, matches] of Object.entries(a.matches!)) {
      if (t.regexp.test(subject) !== matches) wrong.push(`${JSON.stringify(a.pattern)} on ${JSON.stringify(subject)}: Go ${matches}, JS ${!matches} (${t.source})`)
    }
  }
  assert.equal(wrong, [])
})

regexps('only Unicode classes are left untranslated', () => {
  const unsupported = regexpAnswers.filter((a) => {
    const t = translateGoRegexp(a.pattern)
    return !t.ok && t.kind === 'unsupported'
  })
  assert.equal(unsupported.map((a) => a.pattern), ['\\pL', '[\\p{Greek}]'])
})

regexps.run()
