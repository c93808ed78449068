/**
 * Human output. Progress and warnings go to stderr so that stdout carries only results
 * (summary lines, --json reports, rendered paths). Colour only on a terminal, never with NO_COLOR.
 */
const useColor = process.stderr.isTTY === true && !process.env.NO_COLOR && process.env.CI !== 'true'
const paint = (code: number, text: string) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text)

export const color = {
  red: (t: string) => paint(31, t),
  green: (t: string) => paint(32, t),
  yellow: (t: string) => paint(33, t),
  dim: (t: string) => paint(2, t),
  bold: (t: string) => paint(1, t),
}

export type Logger = {
  step(message: string): void
  info(message: string): void
  warn(message: string): void
  /** One progress line for long waits. */
  progress(message: string): void
  /** The result line of a step, on stdout. */
  summary(message: string): void
}

export function consoleLogger(): Logger {
  return {
    step: (m) => process.stderr.write(`${color.bold('==>')} ${m}\n`),
    info: (m) => process.stderr.write(`    ${m}\n`),
    warn: (m) => process.stderr.write(`${color.yellow('WARNING:')} ${m}\n`),
    progress: (m) => process.stderr.write(`    ${color.dim('...')} ${m}\n`),
    summary: (m) => process.stdout.write(`${m}\n`),
  }
}
