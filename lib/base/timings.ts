/**
 * --timings: where a run spends its time. Each span has a start and a duration in milliseconds
 * since the process started (performance.now()), so overlapping work (an API read inside a step)
 * and gaps (module loading) both show. Printed on stderr when the run ends. Nothing is recorded
 * until the flag is seen, so a run without it pays one boolean check per hook.
 */
export type Span = { label: string; start: number; ms: number }

const spans: Span[] = []
let enabled = false

export function enableTimings(): void {
  enabled = true
}

export function timingsEnabled(): boolean {
  return enabled
}

/** Records a span from `start` to `end` (performance.now() values; `end` defaults to now). */
export function recordSpan(label: string, start: number, end: number = performance.now()): void {
  if (enabled) spans.push({ label, start, ms: end - start })
}

/** Runs an action and records its span, whether it succeeds or throws. */
export async function timed<T>(label: string, action: () => Promise<T>): Promise<T> {
  if (!enabled) return action()
  const start = performance.now()
  try {
    return await action()
  } finally {
    recordSpan(label, start)
  }
}

/** The spans in start order, one line each, ending with the total. */
export function formatTimings(end: number = performance.now()): string {
  const ms = (n: number) => n.toFixed(0).padStart(6)
  const lines = [...spans]
    .sort((a, b) => a.start - b.start)
    .map((s) => `${ms(s.start)} ms +${ms(s.ms)} ms  ${s.label}`)
  return ['timings (start since process start, + duration):', ...lines, `${ms(end)} ms total`].join('\n')
}
