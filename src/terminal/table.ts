import stringWidth from 'string-width';

/** Two spaces between columns: enough to tell them apart without borders. */
export const COLUMN_GAP = 2;
/** A truncated column keeps at least this many columns (or its whole width, when narrower). */
const MIN_SHRUNK = 8;
/** When nothing else helps, a column keeps at least this much: a few characters and `…`. */
const MIN_CUT = 4;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Terminal columns a line of text takes, counting wide characters as two. */
export function displayWidth(text: string): number {
  return PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text);
}

/** The text cut to `width` columns, ending in `…` when something was cut. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  if (PRINTABLE_ASCII.test(text)) return `${text.slice(0, width - 1)}…`;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = stringWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out}…`;
}

/**
 * Column widths that fit `maxWidth` (with the gaps between columns): the
 * widest shrinkable column gives up one column at a time, down to a floor, so
 * free text is cut before anything short such as an id, a count or a time.
 * When even that is not enough the result is wider than `maxWidth`: cutting
 * every column to nothing would show nothing.
 */
export function fitWidths(natural: number[], shrinkable: boolean[], maxWidth: number): number[] {
  const widths = [...natural];
  if (!Number.isFinite(maxWidth)) return widths;
  let excess = widths.reduce((a, b) => a + b, 0) + COLUMN_GAP * Math.max(0, widths.length - 1) - maxWidth;
  // Free text down to a readable width first, then further; only then anything else.
  const stages: Array<{ only: boolean; floor: number }> = [
    { only: true, floor: MIN_SHRUNK },
    { only: true, floor: MIN_CUT },
    { only: false, floor: MIN_CUT },
  ];
  for (const { only, floor } of stages) {
    while (excess > 0) {
      let widest = -1;
      for (let i = 0; i < widths.length; i++) {
        if (only && !shrinkable[i]) continue;
        if (widths[i]! > Math.min(natural[i]!, floor) && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      }
      if (widest < 0) break;
      widths[widest] = widths[widest]! - 1;
      excess--;
    }
  }
  return widths;
}

/** The text broken into lines of at most `width` columns, at spaces where it can, inside a word where it must. */
export function wrap(text: string, width: number): string[] {
  if (width <= 0 || displayWidth(text) <= width) return [text];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line ? `${line} ${word}` : word;
    if (displayWidth(candidate) <= width) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    line = '';
    let rest = word;
    while (displayWidth(rest) > width) {
      let piece = '';
      for (const ch of rest) {
        if (displayWidth(piece + ch) > width) break;
        piece += ch;
      }
      lines.push(piece);
      rest = rest.slice(piece.length);
    }
    line = rest;
  }
  if (line) lines.push(line);
  return lines;
}
