// Top causes: interruptions grouped by (class, func-or-kind, sender), worst
// stolen time first.
import type { Line } from '../format.js';
import { col, fmtCount, formatDuration, symbolName } from '../format.js';
import type { CauseGroup, Model, Snapshot } from '../model/index.js';
import { causeRows } from '../model/index.js';
import { whatLabel } from './describe.js';
import { framePanel } from './panel.js';

/** "from noise/4242 on CPU 0 (membarrier_private_expedited)" or "self: app/5000" */
export function causeSender(g: CauseGroup): string {
  if (g.selfCaused) return g.sender;
  const site = g.callsites.length === 1 ? ` (${symbolName(g.callsites[0])})` : g.callsites.length > 1 ? ' (several callsites)' : '';
  return `from ${g.sender}${site}`;
}

export function causePanel(model: Model, snap: Snapshot, width: number, height: number, focused: boolean): Line[] {
  const rows = causeRows(snap, model.filter);
  const total = Object.keys(snap.stats.causes).length;
  const columns = [col('count', 6, 'right'), col('viol', 5, 'right'), col('stolen', 9, 'right'), col('max', 8, 'right'), 'cause'].join(' ');
  const lines: Line[] = rows.map((g) => {
    const text = [
      col(fmtCount(g.count), 6, 'right'),
      col(fmtCount(g.violations), 5, 'right'),
      col(formatDuration(g.stolenNs), 9, 'right'),
      col(formatDuration(g.maxNs), 8, 'right'),
      `${whatLabel(g.class, g.kind, g.func)} ${causeSender(g)}`,
    ].join(' ');
    return [{ text, style: g.violations > 0 ? ('violation' as const) : undefined }];
  });
  return framePanel(
    {
      title: `Top causes (${model.filter ? `${rows.length} of ${total} match "${model.filter}"` : total})`,
      info: 'Enter: chain, histogram, remedy',
      focused,
      columns,
      rows: lines,
      selected: model.sel.causes,
      empty: model.filter ? `nothing matches "${model.filter}"` : 'no interruptions yet',
    },
    width,
    height,
  );
}
