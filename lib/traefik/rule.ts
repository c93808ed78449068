/**
 * Traefik router rules, read the way Traefik v3 reads them, and the one question the route audit
 * asks of them: can this rule match requests for a given host name?
 *
 * Grammar. Traefik hands a rule to a Go expression parser (vulcand/predicate over go/parser) and
 * accepts only: calls of its matchers with string-literal arguments, `&&`, `||`, `!` and
 * parentheses. String literals are Go's: `raw` (backticks) or "interpreted" (double quotes, with Go
 * escapes); single quotes are Go rune literals and are rejected. Go's automatic semicolons apply, so
 * a line break right after `)`, a string or a name ends the rule. A matcher's name is accepted as
 * written in Traefik's table, all lower case, all upper case or capitalised (`PathPrefix`,
 * `pathprefix`, `PATHPREFIX`, `Pathprefix`). This module follows Traefik v3.6 (pkg/rules,
 * pkg/muxer/http); test/recorded/traefik-rules.json holds Traefik's own answers for the test table.
 *
 * v3 and v2 syntax. The v3 syntax is Traefik v3's default: Host and HostRegexp take exactly one
 * argument. The v2 forms (several hosts in one Host, HostHeader, Headers, HeadersRegexp, gorilla/mux
 * templates in HostRegexp) are accepted only when the route says `syntax: v2` or Traefik runs with
 * `--core.defaultRuleSyntax=v2`. Under v3 syntax such a rule does not parse: Traefik rejects it and the
 * router serves nothing, so the judgement is `unknown` with `traefikRejects: true` (the audit warns).
 * Under v2 syntax, Host and HostHeader are judged (any listed host); a v2 HostRegexp is a template
 * language of its own and is `unknown` (Traefik accepts it, the audit cannot read it).
 */
import net from 'node:net'
import { translateGoRegexp } from './go-regexp.ts'

export type RuleSyntax = 'v3' | 'v2'

export type RuleNode =
  | { kind: 'and'; left: RuleNode; right: RuleNode }
  | { kind: 'or'; left: RuleNode; right: RuleNode }
  | { kind: 'not'; operand: RuleNode }
  /** `name` is the matcher's canonical spelling (`PathPrefix` for `pathprefix`) in `syntax`. */
  | { kind: 'matcher'; name: string; args: string[]; syntax: RuleSyntax }

export type ParsedRule = { ok: true; tree: RuleNode } | { ok: false; error: string }

/**
 * Whether a rule can match requests for one host:
 * - `yes`: some request for the host matches. `catchAll` says no Host/HostRegexp matcher of the rule
 *   (outside a `!`) picks the host out, i.e. matches it but not a host name nothing routes: the rule
 *   serves the host only as it serves every host (no Host matcher at all, `!Host(other)`,
 *   `HostRegexp(`.*`)`).
 * - `no`: no request for the host can match.
 * - `unknown`: the rule cannot be judged; `traefikRejects` says Traefik itself refuses the rule (so
 *   its router serves nothing) rather than this module not being able to read it.
 */
export type HostVerdict =
  | { verdict: 'yes'; catchAll: boolean }
  | { verdict: 'no' }
  | { verdict: 'unknown'; reason: string; traefikRejects: boolean }

type MatcherSpec = { arity: number[]; host?: boolean }

const V3_MATCHERS: Record<string, MatcherSpec> = {
  ClientIP: { arity: [1] },
  Method: { arity: [1] },
  Host: { arity: [1], host: true },
  HostRegexp: { arity: [1], host: true },
  Path: { arity: [1] },
  PathRegexp: { arity: [1] },
  PathPrefix: { arity: [1] },
  Header: { arity: [2] },
  HeaderRegexp: { arity: [2] },
  Query: { arity: [1, 2] },
  QueryRegexp: { arity: [1, 2] },
}
// v2 matchers take any number of arguments (Headers and HeadersRegexp take pairs).
const V2_MATCHERS: Record<string, MatcherSpec> = {
  Host: { arity: [], host: true },
  HostHeader: { arity: [], host: true },
  HostRegexp: { arity: [], host: true },
  ClientIP: { arity: [] },
  Path: { arity: [] },
  PathPrefix: { arity: [] },
  Method: { arity: [] },
  Headers: { arity: [2] },
  HeadersRegexp: { arity: [2] },
  Query: { arity: [] },
}
const MATCHERS: Record<RuleSyntax, Record<string, MatcherSpec>> = { v3: V3_MATCHERS, v2: V2_MATCHERS }

/** A host name nothing routes (RFC 2606 `.invalid`): a rule that also matches it is a catch-all. */
const UNROUTED_HOST = 'unrouted-host.invalid'
/** Beyond this many distinct matchers the satisfiability search (2^n) is not attempted. */
const MAX_VARIABLES = 14

// --- parsing

type Token =
  | { type: 'ident'; value: string; pos: number }
  | { type: 'string'; value: string; pos: number }
  | { type: '(' | ')' | ',' | '&&' | '||' | '!' | '...' | 'newline' | 'end'; pos: number }

class RuleSyntaxError extends Error {}

export function parseRule(rule: string, syntax: RuleSyntax = 'v3'): ParsedRule {
  try {
    const tokens = tokenize(rule)
    const parser = new RuleParser(tokens, syntax)
    const tree = parser.parseWhole()
    validate(tree, syntax)
    return { ok: true, tree }
  } catch (err) {
    if (err instanceof RuleSyntaxError) return { ok: false, error: err.message }
    throw err
  }
}

function tokenize(rule: string): Token[] {
  const tokens: Token[] = []
  // Go inserts a semicolon at a line break that follows a name, a literal or `)`.
  const endsStatement = () => ['ident', 'string', ')'].includes(tokens.at(-1)?.type ?? '')
  const lineBreak = (pos: number) => {
    if (endsStatement()) tokens.push({ type: 'newline', pos })
  }
  let i = 0
  while (i < rule.length) {
    const c = rule[i]
    const pos = i
    if (c === '\n') {
      lineBreak(pos)
      i++
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++
    } else if (rule.startsWith('//', i)) {
      const end = rule.indexOf('\n', i)
      i = end < 0 ? rule.length : end
    } else if (rule.startsWith('/*', i)) {
      const end = rule.indexOf('*/', i + 2)
      if (end < 0) throw new RuleSyntaxError(`comment not terminated (at ${pos})`)
      if (rule.slice(i, end).includes('\n')) lineBreak(pos)
      i = end + 2
    } else if (c === '`') {
      const end = rule.indexOf('`', i + 1)
      if (end < 0) throw new RuleSyntaxError(`raw string literal not terminated (at ${pos})`)
      tokens.push({ type: 'string', value: rule.slice(i + 1, end).replaceAll('\r', ''), pos })
      i = end + 1
    } else if (c === '"') {
      const [value, next] = readInterpretedString(rule, i)
      tokens.push({ type: 'string', value, pos })
      i = next
    } else if (c === "'") {
      throw new RuleSyntaxError(`single quotes at ${pos}: Traefik takes strings in backticks or double quotes ('...' is a Go character literal)`)
    } else if (rule.startsWith('&&', i) || rule.startsWith('||', i) || rule.startsWith('...', i)) {
      const op = rule.startsWith('...', i) ? '...' : (rule.slice(i, i + 2) as '&&' | '||')
      tokens.push({ type: op, pos })
      i += op.length
    } else if (c === '!' && rule[i + 1] !== '=') {
      tokens.push({ type: '!', pos })
      i++
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ type: c, pos })
      i++
    } else {
      const ident = /^[\p{L}_][\p{L}\p{Nd}_]*/u.exec(rule.slice(i))
      if (!ident) throw new RuleSyntaxError(`unexpected ${JSON.stringify(rule.slice(i, i + 2))} at ${pos}: a rule combines matchers with &&, || and ! only`)
      tokens.push({ type: 'ident', value: ident[0], pos })
      i += ident[0].length
    }
  }
  lineBreak(rule.length)
  tokens.push({ type: 'end', pos: rule.length })
  return tokens
}

/** A Go interpreted string literal starting at `start` (the opening quote): its value and the index after it. */
function readInterpretedString(rule: string, start: number): [string, number] {
  let value = ''
  let i = start + 1
  const fail = (what: string) => new RuleSyntaxError(`${what} in the string at ${start}`)
  for (;;) {
    const c = rule[i]
    if (c === undefined || c === '\n') throw fail('string literal not terminated')
    if (c === '"') return [value, i + 1]
    if (c !== '\\') {
      value += c
      i++
      continue
    }
    const e = rule[i + 1]
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' }
    if (e in simple) {
      value += simple[e]
      i += 2
      continue
    }
    const forms: [RegExp, number][] = [[/^[0-7]{3}/, 8], [/^x[0-9A-Fa-f]{2}/, 16], [/^u[0-9A-Fa-f]{4}/, 16], [/^U[0-9A-Fa-f]{8}/, 16]]
    const rest = rule.slice(i + 1)
    const form = forms.find(([re]) => re.test(rest))
    if (!form) throw fail(`unknown escape sequence \\${e ?? ''}`)
    const digits = form[0].exec(rest)![0]
    const code = parseInt(form[1] === 8 ? digits : digits.slice(1), form[1])
    if ((form[1] === 8 && code > 255) || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff && digits[0] !== 'x' && form[1] !== 8)) {
      throw fail(`escape sequence \\${digits} is not a valid character`)
    }
    // \NNN and \xNN are bytes in Go; a byte >= 0x80 alone is not valid UTF-8 and could not name a host anyway.
    value += String.fromCodePoint(code)
    i += 1 + digits.length
  }
}

class RuleParser {
  private i = 0
  private readonly tokens: Token[]
  private readonly syntax: RuleSyntax
  constructor(tokens: Token[], syntax: RuleSyntax) {
    this.tokens = tokens
    this.syntax = syntax
  }

  parseWhole(): RuleNode {
    const tree = this.parseOr()
    const next = this.peek()
    if (next.type === 'newline' && this.tokens[this.i + 1].type === 'end') return tree
    if (next.type === 'newline') throw new RuleSyntaxError(`line break at ${next.pos}: Go ends the rule there (put && or || at the end of a line, not at the start of the next)`)
    if (next.type !== 'end') throw new RuleSyntaxError(`unexpected ${describe(next)} at ${next.pos}`)
    return tree
  }

  private peek(): Token {
    return this.tokens[this.i]
  }

  private expect(type: Token['type'], what: string): Token {
    const token = this.peek()
    if (token.type !== type) {
      const hint = token.type === 'newline' ? ' (Go ends the rule at that line break)' : ''
      throw new RuleSyntaxError(`expected ${what}, found ${describe(token)} at ${token.pos}${hint}`)
    }
    this.i++
    return token
  }

  private parseOr(): RuleNode {
    let left = this.parseAnd()
    while (this.peek().type === '||') {
      this.i++
      left = { kind: 'or', left, right: this.parseAnd() }
    }
    return left
  }

  private parseAnd(): RuleNode {
    let left = this.parseUnary()
    while (this.peek().type === '&&') {
      this.i++
      left = { kind: 'and', left, right: this.parseUnary() }
    }
    return left
  }

  private parseUnary(): RuleNode {
    if (this.peek().type === '!') {
      this.i++
      return { kind: 'not', operand: this.parseUnary() }
    }
    return this.parsePrimary()
  }

  private parsePrimary(): RuleNode {
    const token = this.peek()
    if (token.type === '(') {
      this.i++
      const inner = this.parseOr()
      this.expect(')', ')')
      return inner
    }
    if (token.type === 'ident') {
      this.i++
      const name = canonicalName(token.value, MATCHERS[this.syntax])
      if (!name) throw new RuleSyntaxError(`unsupported function: ${token.value}`)
      this.expect('(', `( after ${token.value}`)
      const args: string[] = []
      while (this.peek().type !== ')') {
        const arg = this.peek()
        if (arg.type !== 'string') throw new RuleSyntaxError(`argument ${args.length + 1} of ${token.value} at ${arg.pos} is ${describe(arg)}, not a string literal`)
        this.i++
        args.push(arg.value)
        // Go allows f(a, b...) (then only `,` and `)` may follow); the predicate parser ignores the dots.
        if (this.peek().type === '...') {
          this.i++
          if (this.peek().type === ',') this.i++
          break
        }
        if (this.peek().type !== ',') break
        this.i++
      }
      this.expect(')', `, or ) in the arguments of ${token.value}`)
      return { kind: 'matcher', name, args, syntax: this.syntax }
    }
    throw new RuleSyntaxError(`expected a matcher, found ${describe(token)} at ${token.pos}`)
  }
}

function describe(token: Token): string {
  if (token.type === 'ident') return `name ${token.value}`
  if (token.type === 'string') return `string ${JSON.stringify(token.value)}`
  if (token.type === 'end') return 'the end of the rule'
  if (token.type === 'newline') return 'a line break'
  return `"${token.type}"`
}

/** Traefik registers each matcher as written, lower case, upper case and capitalised. */
function canonicalName(name: string, matchers: Record<string, MatcherSpec>): string | undefined {
  return Object.keys(matchers).find(
    (m) => name === m || name === m.toLowerCase() || name === m.toUpperCase() || name === m[0].toUpperCase() + m.slice(1).toLowerCase(),
  )
}

/** What Traefik checks when it builds the matchers: argument counts and values. */
function validate(node: RuleNode, syntax: RuleSyntax): void {
  if (node.kind === 'and' || node.kind === 'or') {
    validate(node.left, syntax)
    validate(node.right, syntax)
    return
  }
  if (node.kind === 'not') return validate(node.operand, syntax)
  const { name, args } = node
  const fail = (why: string) => new RuleSyntaxError(`${name}: ${why}`)
  if (args.length === 0) throw fail('no arguments')
  if (args.some((a) => a === '')) throw fail('empty argument')
  const spec = MATCHERS[syntax][name]
  if (syntax === 'v3' && !spec.arity.includes(args.length)) {
    const v2 = (name === 'Host' || name === 'HostRegexp') && args.length > 1 ? ' (several hosts in one matcher is v2 syntax: write Host(`a`) || Host(`b`), or set the route\'s syntax to v2)' : ''
    throw fail(`takes ${spec.arity.join(' or ')} argument${spec.arity.at(-1) === 1 ? '' : 's'}, got ${args.length}${v2}`)
  }
  if (syntax === 'v2' && spec.arity.length && args.length % 2 !== 0) throw fail('takes pairs of arguments')
  if (spec.host && args.some((a) => /[^\x00-\x7f]/.test(a))) throw fail('non-ASCII characters are not allowed (use the punycode form)')
  if (syntax === 'v3') {
    if ((name === 'Path' || name === 'PathPrefix') && !args[0].startsWith('/')) throw fail(`path ${JSON.stringify(args[0])} does not start with a '/'`)
    const pattern = name === 'HostRegexp' || name === 'PathRegexp' ? args[0] : name === 'HeaderRegexp' || (name === 'QueryRegexp' && args.length === 2) ? args[1] : undefined
    if (pattern !== undefined) {
      const translated = translateGoRegexp(pattern)
      if (!translated.ok && translated.kind === 'invalid') throw fail(`invalid regexp ${JSON.stringify(pattern)}: ${translated.reason}`)
    }
  }
  if (name === 'ClientIP' && !args.every(isIpOrCidr)) throw fail(`${JSON.stringify(args.find((a) => !isIpOrCidr(a)))} is neither an IP address nor a CIDR range`)
}

function isIpOrCidr(value: string): boolean {
  const [address, prefix, extra] = value.split('/')
  if (extra !== undefined) return false
  const family = net.isIP(address)
  if (family === 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

// --- judging

type AtomValue = boolean | { unknown: string }

/**
 * Can `rule` match requests for `host`? Hosts compare as Traefik compares them: lower case, a
 * trailing dot ignored by Host; HostRegexp sees the host as sent, so a request for `host.` is tried
 * as well. Matchers other than Host/HostRegexp (paths, methods, headers, queries, client IPs) are
 * taken as independent conditions some request can meet; ClientIP included, since behind a router's
 * port forward and kube-proxy the client address Traefik sees is often a LAN one.
 */
export function ruleServesHost(rule: string, host: string, syntax: RuleSyntax = 'v3'): HostVerdict {
  const parsed = parseRule(rule, syntax)
  if (!parsed.ok) return { verdict: 'unknown', reason: `Traefik rejects this rule: ${parsed.error}`, traefikRejects: true }
  return judgeHost(parsed.tree, host)
}

/** The judgement on a parsed rule, or on a conjunction of several (a child router under its parents). */
export function judgeHost(tree: RuleNode, host: string): HostVerdict {
  const name = host.toLowerCase().replace(/\.$/, '')
  const verdicts = [name, `${name}.`].map((requestHost) => judgeRequestHost(tree, requestHost, requestHost.endsWith('.') ? `${UNROUTED_HOST}.` : UNROUTED_HOST))
  const yes = verdicts.filter((v) => v.verdict === 'yes')
  if (yes.length) return { verdict: 'yes', catchAll: yes.every((v) => v.verdict === 'yes' && v.catchAll) }
  return verdicts.find((v) => v.verdict === 'unknown') ?? { verdict: 'no' }
}

function judgeRequestHost(tree: RuleNode, host: string, unrouted: string): HostVerdict {
  // Memoised: the search evaluates each matcher once per assignment.
  const valueAt = (requestHost: string) => {
    const values = new Map<string, AtomValue>()
    return (node: MatcherNode): AtomValue => {
      const key = atomKey(node)
      if (!values.has(key)) values.set(key, hostMatcherValue(node, requestHost))
      return values.get(key)!
    }
  }
  const atHost = valueAt(host)
  const atUnrouted = valueAt(unrouted)

  // Variables of the search: each distinct non-host matcher, and each host matcher this module
  // cannot evaluate.
  const variables = new Map<string, number>()
  const unknownReasons = new Map<string, string>()
  const collect = (node: RuleNode): void => {
    if (node.kind === 'and' || node.kind === 'or') return (collect(node.left), collect(node.right))
    if (node.kind === 'not') return collect(node.operand)
    const key = atomKey(node)
    if (variables.has(key)) return
    if (!isHostMatcher(node)) return void variables.set(key, variables.size)
    const value = atHost(node)
    if (typeof value === 'boolean') return
    variables.set(key, variables.size)
    unknownReasons.set(key, value.unknown)
  }
  collect(tree)
  if (variables.size > MAX_VARIABLES) {
    return { verdict: 'unknown', reason: `the rule has too many matchers (${variables.size}) for the audit to judge`, traefikRejects: false }
  }

  const evaluate = (node: RuleNode, assignment: number): boolean => {
    switch (node.kind) {
      case 'and':
        return evaluate(node.left, assignment) && evaluate(node.right, assignment)
      case 'or':
        return evaluate(node.left, assignment) || evaluate(node.right, assignment)
      case 'not':
        return !evaluate(node.operand, assignment)
      case 'matcher': {
        const variable = variables.get(atomKey(node))
        return variable === undefined ? (atHost(node) as boolean) : (assignment & (1 << variable)) !== 0
      }
    }
  }
  // `no` when no assignment matches; `yes` when, whatever the unreadable host matchers say, some
  // request matches; `unknown` otherwise.
  const unknownMask = [...unknownReasons.keys()].reduce((mask, key) => mask | (1 << variables.get(key)!), 0)
  const matchingUnknowns = new Set<number>()
  const allUnknowns = 1 << unknownReasons.size
  for (let assignment = 0; assignment < 1 << variables.size && matchingUnknowns.size < allUnknowns; assignment++) {
    if (evaluate(tree, assignment)) matchingUnknowns.add(assignment & unknownMask)
  }
  if (matchingUnknowns.size === 0) return { verdict: 'no' }
  if (matchingUnknowns.size < allUnknowns) return { verdict: 'unknown', reason: [...unknownReasons.values()].join('; '), traefikRejects: false }

  // Does a Host/HostRegexp matcher (not negated) pick this host out: match it, but not a host name
  // nothing routes? If none does, the rule serves the host only as it serves every host.
  const positive = positiveHostMatchers(tree)
  if (positive.some((m) => atHost(m) === true && atUnrouted(m) === false)) return { verdict: 'yes', catchAll: false }
  const unreadable = positive.filter((m) => typeof atHost(m) !== 'boolean' || typeof atUnrouted(m) !== 'boolean')
  if (unreadable.length) {
    const why = unreadable.map((m) => unknownReasons.get(atomKey(m)) ?? (atUnrouted(m) as { unknown: string }).unknown)
    return { verdict: 'unknown', reason: `the rule matches ${host}, but the audit cannot tell whether it picks that host out: ${why.join('; ')}`, traefikRejects: false }
  }
  return { verdict: 'yes', catchAll: true }
}

type MatcherNode = RuleNode & { kind: 'matcher' }

/** Host matchers under an even number of `!`. */
function positiveHostMatchers(node: RuleNode, negated = false): MatcherNode[] {
  if (node.kind === 'and' || node.kind === 'or') return [...positiveHostMatchers(node.left, negated), ...positiveHostMatchers(node.right, negated)]
  if (node.kind === 'not') return positiveHostMatchers(node.operand, !negated)
  return !negated && isHostMatcher(node) ? [node] : []
}

function isHostMatcher(node: MatcherNode): boolean {
  return MATCHERS[node.syntax][node.name].host === true
}

function atomKey(node: MatcherNode): string {
  return JSON.stringify([node.syntax, node.name, ...node.args])
}

/** The value of a Host/HostHeader/HostRegexp matcher for one request host (lower case). */
function hostMatcherValue(node: MatcherNode, host: string): AtomValue {
  const syntax = node.syntax
  if (node.name === 'HostRegexp') {
    if (syntax === 'v2') return { unknown: `v2 HostRegexp templates are not read by the audit: HostRegexp(${node.args.map((a) => `\`${a}\``).join(', ')})` }
    const translated = translateGoRegexp(node.args[0])
    if (!translated.ok) return { unknown: `HostRegexp(\`${node.args[0]}\`): ${translated.reason}` }
    // Traefik also tries the CNAME-flattened host, which is empty unless CNAME flattening is on:
    // a regexp that matches the empty string matches every request.
    return translated.regexp.test(host) || translated.regexp.test('')
  }
  // Host (v3: one argument; v2: any of several; HostHeader is v2's alias). Traefik lowercases both
  // sides and ignores one trailing dot on either.
  const bare = host.replace(/\.$/, '')
  return node.args.some((arg) => hostExpressionMatches(arg.toLowerCase().replace(/\.$/, ''), bare, syntax))
}

/**
 * `*` and `*.domain` in Host are wildcards since Traefik v3.7 (one label; `*` alone: every host).
 * Older v3 releases compare them literally, so they match no real host there; taking them as
 * wildcards can only report more, never less.
 */
function hostExpressionMatches(expression: string, host: string, syntax: RuleSyntax): boolean {
  if (syntax === 'v3' && expression === '*') return true
  if (syntax === 'v3' && expression.startsWith('*')) return ['*', ...host.split('.').slice(1)].join('.') === expression
  return expression === host
}

/** Whether an Ingress rule's host (exact, or a `*.domain` wildcard of one label) covers `host`. */
export function ingressHostCovers(ingressHost: string, host: string): boolean {
  const pattern = ingressHost.toLowerCase()
  const name = host.toLowerCase().replace(/\.$/, '')
  if (!pattern.startsWith('*.')) return pattern === name
  const dot = name.indexOf('.')
  return dot > 0 && name.slice(dot) === pattern.slice(1)
}
