/** The most characters of caller input an error message repeats. */
export const MAX_QUOTED = 64;

/**
 * Caller input for an error message: at most MAX_QUOTED characters, JSON-escaped and quoted
 * (control characters and lone surrogates become escapes), with `...` when cut.
 */
export function quote(value: string, max = MAX_QUOTED): string {
  const cut = value.length > max;
  return `${JSON.stringify(cut ? value.slice(0, max) : value)}${cut ? '...' : ''}`;
}
