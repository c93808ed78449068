/** Unified diffs of text, for --dry-run (jsdiff, loaded only when a diff is shown). */

/** `--- from` / `+++ to` and the changed lines with 3 of context; '' when the texts are equal. */
export async function unifiedDiff(fromName: string, toName: string, from: string, to: string): Promise<string> {
  if (from === to) return ''
  const { createTwoFilesPatch, FILE_HEADERS_ONLY } = await import('diff')
  return createTwoFilesPatch(fromName, toName, from, to, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY })
}
