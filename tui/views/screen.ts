// The whole screen as lines: header, the four panels (or help / a detail
// view), footer. Exactly model.rows lines of model.cols columns.
import type { Line } from '../format.js';
import { fitLine, plain, wrapLine } from '../format.js';
import type { Model, RemedyLookup } from '../model/index.js';
import { visible } from '../model/index.js';
import { causePanel } from './causes.js';
import { cpuPanel } from './cpus.js';
import { detailLines } from './detail.js';
import { eventPanel } from './events.js';
import { footerLine, headerLines } from './header.js';
import { helpLines } from './help.js';
import { computeLayout } from './layout.js';
import { taskPanel } from './tasks.js';

export interface ScreenOptions {
  remedyFor?: RemedyLookup;
}

export function renderScreen(model: Model, opts: ScreenOptions = {}): Line[] {
  const width = Math.max(1, model.cols);
  const layout = computeLayout(model);
  const snap = visible(model);
  const out: Line[] = headerLines(model, width).slice(0, layout.header.height);

  if (model.help || model.detail) {
    let body = (model.help ? helpLines() : detailLines(model, snap, model.detail!, width, opts.remedyFor)).flatMap((l) =>
      wrapLine(l, width),
    );
    const h = layout.body.height;
    if (body.length > h && h > 1) {
      // Scrollable; the last row says how much is below.
      const maxScroll = body.length - h + 1;
      const s = Math.min(model.detailScroll, maxScroll);
      const below = body.length - (s + h - 1);
      body = body.slice(s, s + h);
      if (below > 0) body[h - 1] = plain(`  ... ${below} more line${below > 1 ? 's' : ''} (Down to scroll)`, 'dim');
    }
    for (let i = 0; i < h; i++) out.push(fitLine(body[i] ?? [], width));
  } else {
    const p = layout.panels;
    out.push(...cpuPanel(model, snap, width, p.cpus.height, model.focus === 'cpus'));
    out.push(...taskPanel(model, snap, width, p.tasks.height, model.focus === 'tasks'));
    out.push(...causePanel(model, snap, width, p.causes.height, model.focus === 'causes'));
    out.push(...eventPanel(model, snap, width, p.events.height, model.focus === 'events'));
  }
  if (layout.footer.height > 0) out.push(footerLine(model, width));
  while (out.length < model.rows) out.push(fitLine([], width));
  return out.slice(0, Math.max(1, model.rows));
}

/** Plain text of the screen, for tests and dumps. */
export function screenText(model: Model, opts: ScreenOptions = {}): string {
  return renderScreen(model, opts)
    .map((l) => l.map((s) => s.text).join('').trimEnd())
    .join('\n');
}
