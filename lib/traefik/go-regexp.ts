/**
 * Go regular expressions (RE2 syntax, as Go's regexp.Compile reads them) translated to JavaScript
 * RegExps, so that the route audit can ask "does Traefik's HostRegexp(...) match this host name?".
 *
 * The translation is exact for ASCII subjects (host names are ASCII, and Traefik lowercases them
 * before matching) and says so when it is not: everything Go accepts and this module cannot render
 * faithfully (Unicode classes \p{..}) comes back as `unsupported`, everything Go itself rejects as
 * `invalid`. To avoid depending on the JS engine's reading of flags and anchors, every construct is
 * spelled out: classes become explicit code point ranges (case folding applied here, as Go applies
 * it), `.`, `^`, `$` become explicit classes and lookarounds, and groups become non-capturing
 * (only "is there a match" matters, and Go has no backreferences).
 */

export type GoRegexpTranslation =
  | { ok: true; regexp: RegExp; source: string }
  | { ok: false; kind: 'invalid' | 'unsupported'; reason: string }

type Flags = { foldCase: boolean; multiLine: boolean; dotNL: boolean }
type Range = [number, number]

const MAX_RUNE = 0x10ffff
const MAX_REPEAT = 1000

class GoRegexpError extends Error {
  readonly kind: 'invalid' | 'unsupported'
  constructor(kind: 'invalid' | 'unsupported', message: string) {
    super(message)
    this.kind = kind
  }
}
const invalid = (message: string) => new GoRegexpError('invalid', message)

// ASCII character sets of Go's Perl and POSIX classes (regexp/syntax documentation).
const PERL_CLASSES: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
}
const POSIX_CLASSES: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
}

// Anchors, wrapped in a group because Go lets them be repeated (`^*`) and JS does not.
const BEGIN_TEXT = '(?:(?<![\\s\\S]))'
const END_TEXT = '(?:(?![\\s\\S]))'
const BEGIN_LINE = '(?:(?<![^\\n]))'
const END_LINE = '(?:(?![^\\n]))'

export function translateGoRegexp(pattern: string): GoRegexpTranslation {
  try {
    const parser = new Parser(pattern)
    const source = parser.parseAll()
    return { ok: true, regexp: new RegExp(source), source }
  } catch (err) {
    if (err instanceof GoRegexpError) return { ok: false, kind: err.kind, reason: err.message }
    // A JS syntax error here is this module's mistake, not the pattern's: do not guess.
    return { ok: false, kind: 'unsupported', reason: `could not translate: ${(err as Error).message}` }
  }
}

class Parser {
  private readonly runes: number[]
  private pos = 0
  constructor(pattern: string) {
    this.runes = [...pattern].map((c) => c.codePointAt(0)!)
  }

  parseAll(): string {
    const source = this.parseGroupBody({ foldCase: false, multiLine: false, dotNL: false })
    if (this.pos < this.runes.length) throw invalid('unexpected ): no group to close')
    return source
  }

  private peek(offset = 0): string {
    const r = this.runes[this.pos + offset]
    return r === undefined ? '' : String.fromCodePoint(r)
  }

  private rest(from = this.pos): string {
    return String.fromCodePoint(...this.runes.slice(from))
  }

  private startsWith(text: string): boolean {
    return [...text].every((c, i) => this.peek(i) === c)
  }

  /** Alternatives up to the group's `)` (not consumed) or the end. Flags set by (?i) last to the group's end. */
  private parseGroupBody(inherited: Flags): string {
    const flags = { ...inherited }
    const alternatives: string[] = []
    let atoms: string[] = []
    let lastWasRepeat = false
    while (this.pos < this.runes.length && this.peek() !== ')') {
      const c = this.peek()
      if (c === '|') {
        this.pos++
        alternatives.push(atoms.join(''))
        atoms = []
        lastWasRepeat = false
        continue
      }
      const repeat = this.readRepeat()
      if (repeat) {
        if (atoms.length === 0) throw invalid(`missing argument to repetition operator: ${repeat.text}`)
        if (lastWasRepeat) throw invalid(`invalid nested repetition operator: ${repeat.text}`)
        // Wrapped, because Go lets a repetition follow one across a flags group (`a*(?i)*`).
        atoms[atoms.length - 1] = `(?:${atoms[atoms.length - 1]})${repeat.js}`
        lastWasRepeat = true
        continue
      }
      lastWasRepeat = false
      if (c === '(') {
        const group = this.parseGroup(flags)
        if (group !== undefined) atoms.push(group)
        continue
      }
      atoms.push(...this.parseAtom(flags))
    }
    alternatives.push(atoms.join(''))
    return alternatives.join('|')
  }

  /** `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy; undefined when none starts here. */
  private readRepeat(): { text: string; js: string } | undefined {
    const start = this.pos
    const c = this.peek()
    let js: string
    if (c === '*' || c === '+' || c === '?') {
      this.pos++
      js = c
    } else if (c === '{') {
      const counted = this.readCount()
      if (!counted) return undefined // Go reads a `{` that starts no valid count as a literal
      js = counted
    } else {
      return undefined
    }
    if (this.peek() === '?') {
      this.pos++
      js += '?'
    }
    return { text: String.fromCodePoint(...this.runes.slice(start, this.pos)), js }
  }

  private readCount(): string | undefined {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.rest())
    // Go refuses leading zeros in counts: such a brace is a literal.
    if (!m || /^0\d/.test(m[1]) || (m[3] && /^0\d/.test(m[3]))) return undefined
    const min = Number(m[1])
    const max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3])
    if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) throw invalid(`invalid repeat count: ${m[0]}`)
    this.pos += m[0].length
    return max < 0 ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`
  }

  /** A group; undefined for a flags-only group such as `(?i)`, which changes `flags` in place. */
  private parseGroup(flags: Flags): string | undefined {
    this.pos++ // (
    let inner = flags
    if (this.peek() === '?') {
      const named = this.startsWith('?P<') ? 3 : this.startsWith('?<') ? 2 : 0
      if (named) {
        const rest = this.rest(this.pos + named)
        const end = rest.indexOf('>')
        const name = end < 0 ? '' : rest.slice(0, end)
        if (end < 0 || !/^[A-Za-z0-9_]+$/.test(name)) throw invalid(`invalid named capture: ${name || '(no name)'}`)
        this.pos += named + [...name].length + 1
      } else {
        this.pos++ // ?
        const set = this.readFlags(flags)
        if (set.closed) return undefined
        inner = set.flags
      }
    }
    const body = this.parseGroupBody(inner)
    if (this.peek() !== ')') throw invalid('missing closing ): unterminated group')
    this.pos++
    return `(?:${body})`
  }

  /** Reads `flags)` or `flags:` after `(?`. Go's flags: i (fold case), m (multi-line), s (. matches \n), U (ungreedy). */
  private readFlags(flags: Flags): { flags: Flags; closed: boolean } {
    const next = { ...flags }
    let negate = false
    let sawFlag = false
    for (;;) {
      const c = this.peek()
      this.pos++
      if (c === 'i' || c === 'm' || c === 's' || c === 'U') {
        sawFlag = true
        // U makes repetitions lazy: whether a match exists does not depend on it.
        if (c === 'i') next.foldCase = !negate
        if (c === 'm') next.multiLine = !negate
        if (c === 's') next.dotNL = !negate
      } else if (c === '-' && !negate) {
        negate = true
        sawFlag = false
      } else if ((c === ')' || c === ':') && !(negate && !sawFlag)) {
        if (c === ')') Object.assign(flags, next)
        return { flags: next, closed: c === ')' }
      } else {
        throw invalid('invalid or unsupported Perl syntax after (?: Go knows only (?:...), (?P<name>...), (?<name>...) and flags i, m, s, U')
      }
    }
  }

  /** The atoms one token makes: one, except for `\\Q...\\E`, whose characters are atoms each (as in Go). */
  private parseAtom(flags: Flags): string[] {
    const c = this.peek()
    switch (c) {
      case '[':
        return [this.parseClass(flags)]
      case '.':
        this.pos++
        return [flags.dotNL ? '[\\s\\S]' : '[^\\n]']
      case '^':
        this.pos++
        return [flags.multiLine ? BEGIN_LINE : BEGIN_TEXT]
      case '$':
        this.pos++
        return [flags.multiLine ? END_LINE : END_TEXT]
      case '\\':
        return this.parseEscapeAtom(flags)
      default:
        this.pos++
        return [literal(c.codePointAt(0)!, flags)]
    }
  }

  private parseEscapeAtom(flags: Flags): string[] {
    const e = this.peek(1)
    switch (e) {
      case 'A':
        this.pos += 2
        return [BEGIN_TEXT]
      case 'z':
        this.pos += 2
        return [END_TEXT]
      case 'b':
        this.pos += 2
        return ['(?:\\b)'] // ASCII word boundary in both Go and JS without the u flag
      case 'B':
        this.pos += 2
        return ['(?:\\B)']
      case 'Q': {
        this.pos += 2
        const out: string[] = []
        while (this.pos < this.runes.length && !this.startsWith('\\E')) out.push(literal(this.runes[this.pos++], flags))
        if (this.startsWith('\\E')) this.pos += 2
        return out
      }
    }
    const group = this.readClassEscape(flags)
    if (group) return [classSource(group)]
    return [literal(this.readEscapedRune(), flags)]
  }

  /** `\d \D \s \S \w \W` (ASCII, as in Go); `\p..` is refused as unsupported. Undefined for any other escape. */
  private readClassEscape(flags: Flags): Range[] | undefined {
    if (this.peek() !== '\\') return undefined
    const e = this.peek(1)
    if (e === 'p' || e === 'P') throw new GoRegexpError('unsupported', 'Unicode classes (\\p, \\P) are not translated')
    const base = PERL_CLASSES[e.toLowerCase()]
    if (!base || !/[dswDSW]/.test(e)) return undefined
    this.pos += 2
    return group(base, e === e.toUpperCase(), flags)
  }

  /** One escaped character: `\a \f \t \n \r \v`, octal `\123`, `\x7F`, `\x{10FFFF}`, or escaped punctuation. */
  private readEscapedRune(): number {
    this.pos++ // backslash
    if (this.pos >= this.runes.length) throw invalid('trailing backslash at end of expression')
    const c = this.peek()
    this.pos++
    const simple: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 }
    if (c in simple) return simple[c]
    if (/[0-7]/.test(c) && (c === '0' || /[0-7]/.test(this.peek()))) {
      // A lone \1..\7 would be a backreference, which Go does not have; \0 and \NN[N] are octal.
      let value = Number(c)
      for (let i = 1; i < 3 && /[0-7]/.test(this.peek()); i++) value = value * 8 + Number(this.runes[this.pos++] - 0x30)
      return value
    }
    if (c === 'x') {
      if (this.peek() === '{') {
        const m = /^\{([0-9A-Fa-f]+)\}/.exec(this.rest())
        if (!m || parseInt(m[1], 16) > MAX_RUNE) throw invalid(`invalid escape sequence: \\x${this.peek()}`)
        this.pos += m[0].length
        return parseInt(m[1], 16)
      }
      const hex = this.peek() + this.peek(1)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw invalid(`invalid escape sequence: \\x${hex}`)
      this.pos += 2
      return parseInt(hex, 16)
    }
    const code = c.codePointAt(0) ?? 0
    if (code < 0x80 && !/[0-9A-Za-z]/.test(c)) return code
    throw invalid(`invalid escape sequence: \\${c}`)
  }

  private parseClass(flags: Flags): string {
    const start = this.pos
    this.pos++ // [
    let negated = false
    if (this.peek() === '^') {
      negated = true
      this.pos++
    }
    let ranges: Range[] = []
    let first = true // `]` right after `[` or `[^` is a literal
    while (first || this.peek() !== ']') {
      if (this.pos >= this.runes.length) throw invalid(`missing closing ]: ${String.fromCodePoint(...this.runes.slice(start))}`)
      first = false
      if (this.startsWith('[:')) {
        const rest = this.rest(this.pos + 2)
        const end = rest.indexOf(':]')
        if (end >= 0) {
          const name = rest.slice(0, end)
          const base = POSIX_CLASSES[name.replace(/^\^/, '')]
          if (!base) throw invalid(`invalid character class range: [:${name}:]`)
          ranges.push(...group(base, name.startsWith('^'), flags))
          this.pos += 2 + [...name].length + 2
          continue
        }
      }
      const escaped = this.readClassEscape(flags)
      if (escaped) {
        ranges.push(...escaped)
        continue
      }
      const lo = this.readClassChar(start)
      let hi = lo
      if (this.peek() === '-' && this.peek(1) !== ']' && this.pos + 1 < this.runes.length) {
        this.pos++
        hi = this.readClassChar(start)
        if (hi < lo) throw invalid(`invalid character class range: ${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`)
      }
      ranges.push(...(flags.foldCase ? fold([[lo, hi]]) : [[lo, hi] as Range]))
    }
    this.pos++ // ]
    ranges = normalize(ranges)
    return classSource(negated ? complement(ranges) : ranges)
  }

  private readClassChar(start: number): number {
    if (this.pos >= this.runes.length) throw invalid(`missing closing ]: ${String.fromCodePoint(...this.runes.slice(start))}`)
    if (this.peek() === '\\') return this.readEscapedRune()
    return this.runes[this.pos++]
  }
}

/** A Perl or POSIX class, case-folded first when (?i) is on and then negated, in Go's order. */
function group(base: Range[], negated: boolean, flags: Flags): Range[] {
  const set = normalize(flags.foldCase ? fold(base) : base)
  return negated ? complement(set) : set
}

/**
 * Adds the case variants Go's simple folding adds. ASCII letters pair up; U+212A (Kelvin sign) folds
 * with k and U+017F (long s) with s, which can bring ASCII letters into a class of non-ASCII ones.
 */
function fold(ranges: Range[]): Range[] {
  const out: Range[] = [...ranges]
  const overlap = (lo: number, hi: number) => ranges.some(([a, b]) => a <= hi && b >= lo)
  for (const [a, b] of ranges) {
    const lo = Math.max(a, 0x41), hi = Math.min(b, 0x5a)
    if (lo <= hi) out.push([lo + 0x20, hi + 0x20])
    const lo2 = Math.max(a, 0x61), hi2 = Math.min(b, 0x7a)
    if (lo2 <= hi2) out.push([lo2 - 0x20, hi2 - 0x20])
  }
  if (overlap(0x212a, 0x212a) || overlap(0x4b, 0x4b) || overlap(0x6b, 0x6b)) out.push([0x4b, 0x4b], [0x6b, 0x6b], [0x212a, 0x212a])
  if (overlap(0x17f, 0x17f) || overlap(0x53, 0x53) || overlap(0x73, 0x73)) out.push([0x53, 0x53], [0x73, 0x73], [0x17f, 0x17f])
  return out
}

function normalize(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0])
  const out: Range[] = []
  for (const [lo, hi] of sorted) {
    const last = out.at(-1)
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi)
    else out.push([lo, hi])
  }
  return out
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = []
  let next = 0
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1])
    next = hi + 1
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE])
  return out
}

function literal(rune: number, flags: Flags): string {
  if (flags.foldCase) {
    const variants = normalize(fold([[rune, rune]]))
    if (variants.length > 1 || variants[0][0] !== variants[0][1]) return classSource(variants)
  }
  return runeSource(rune)
}

/**
 * A JS class of the ranges, without the u flag: code points above U+FFFF are left out (an ASCII
 * subject never contains them), so a class of only such code points is `[]`, which matches nothing.
 */
function classSource(ranges: Range[]): string {
  const bmp = normalize(ranges)
    .filter(([lo]) => lo <= 0xffff)
    .map(([lo, hi]): Range => [lo, Math.min(hi, 0xffff)])
  return `[${bmp.map(([lo, hi]) => (lo === hi ? unit(lo) : `${unit(lo)}-${unit(hi)}`)).join('')}]`
}

function runeSource(rune: number): string {
  if (rune > 0xffff) return '[]'
  return /[0-9A-Za-z]/.test(String.fromCharCode(rune)) ? String.fromCharCode(rune) : unit(rune)
}

function unit(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`
}
