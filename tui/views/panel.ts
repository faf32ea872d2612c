// Shared panel frame: a title line, a column header, and a scrolled list of
// rows with a selection gutter ('>' on the selected row of the focused panel,
// so the selection is visible without colour).
import type { Line } from '../format.js';
import { fitLine, plain } from '../format.js';

export interface PanelSpec {
  title: string;
  /** right side of the title line, e.g. "3 of 12" */
  info?: string;
  focused: boolean;
  columns: string;
  rows: Line[];
  selected: number;
  /** shown when there are no rows */
  empty?: string;
}

/** Exactly `height` lines of `width` columns. */
export function framePanel(p: PanelSpec, width: number, height: number): Line[] {
  if (height <= 0) return [];
  const out: Line[] = [];
  const mark = p.focused ? '>> ' : '   ';
  const info = p.info ? `  ${p.info}` : '';
  out.push(fitLine(plain(`${mark}${p.title}${info}`, p.focused ? 'title-focused' : 'title'), width));
  if (height >= 2) out.push(fitLine([{ text: `  ${p.columns}`, style: 'header' }], width));
  const bodyH = height - out.length;
  if (bodyH <= 0) return out;
  if (p.rows.length === 0) {
    out.push(fitLine(plain(`  ${p.empty ?? '(nothing yet)'}`, 'dim'), width));
  } else {
    const sel = Math.max(0, Math.min(p.selected, p.rows.length - 1));
    // Scroll just enough to keep the selection on screen.
    const start = Math.max(0, sel - bodyH + 1);
    for (let i = start; i < Math.min(p.rows.length, start + bodyH); i++) {
      const isSel = i === sel && p.focused;
      const gutter = isSel ? '> ' : '  ';
      const row = isSel ? [{ text: gutter + p.rows[i].map((s) => s.text).join(''), style: 'selected' as const }] : [{ text: gutter }, ...p.rows[i]];
      out.push(fitLine(row, width));
    }
  }
  while (out.length < height) out.push(fitLine([], width));
  return out;
}
