// Styled lines -> blessed content. With colour: blessed tags, text escaped.
// Without (NO_COLOR): plain text, no tags at all.
import type { Line, Style } from '../format.js';

const TAGS: Record<Style, [string, string] | undefined> = {
  plain: undefined,
  title: ['{bold}', '{/bold}'],
  'title-focused': ['{black-fg}{cyan-bg}{bold}', '{/bold}{/cyan-bg}{/black-fg}'],
  header: ['{underline}', '{/underline}'],
  selected: ['{inverse}', '{/inverse}'],
  violation: ['{red-fg}', '{/red-fg}'],
  dim: ['{gray-fg}', '{/gray-fg}'],
  warn: ['{yellow-fg}', '{/yellow-fg}'],
  good: ['{green-fg}', '{/green-fg}'],
  key: ['{cyan-fg}{bold}', '{/bold}{/cyan-fg}'],
};

/** Escapes blessed tag braces in user-controlled text (comms, callsites, filters). */
export function escapeTags(text: string): string {
  return text.replace(/[{}]/g, (ch) => (ch === '{' ? '{open}' : '{close}'));
}

export function toContent(lines: readonly Line[], color: boolean): string {
  return lines
    .map((line) =>
      line
        .map((seg) => {
          if (!color) return seg.text;
          const t = seg.style ? TAGS[seg.style] : undefined;
          const text = escapeTags(seg.text);
          return t ? `${t[0]}${text}${t[1]}` : text;
        })
        .join(''),
    )
    .join('\n');
}
