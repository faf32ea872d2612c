// Event log: newest interruptions first, in words, with the cause chain.
import type { Line } from '../format.js';
import { formatDuration, fmtRelTs } from '../format.js';
import type { Model, Snapshot } from '../model/index.js';
import { eventRows } from '../model/index.js';
import { describeEvent } from './describe.js';
import { framePanel } from './panel.js';

export function eventPanel(model: Model, snap: Snapshot, width: number, height: number, focused: boolean): Line[] {
  const rows = eventRows(snap, model.filter);
  const t0 = model.start.ts_ns ?? snap.stats.firstTsNs ?? 0;
  const lines: Line[] = rows.map((e) => {
    const r = e.rec;
    const text = `${fmtRelTs(r.ts_ns - t0).padStart(9)} ${String(r.cpu).padStart(3)} ${r.violation ? '!' : ' '} ${formatDuration(r.duration_ns).padStart(8)} ${describeEvent(r, false)}  [${r.victim.comm}/${r.victim.tid}]`;
    return [{ text, style: r.violation ? ('violation' as const) : undefined }];
  });
  const kept = snap.stats.events.length;
  return framePanel(
    {
      title: `Events (newest first, ${model.filter ? `${rows.length} of ` : ''}${kept} kept)`,
      info: '! = violation',
      focused,
      columns: `${'time'.padStart(9)} CPU   ${'stolen'.padStart(8)} what -> chain, cause  [victim]`,
      rows: lines,
      selected: model.sel.events,
      empty: model.filter ? `nothing matches "${model.filter}"` : 'no interruptions yet',
    },
    width,
    height,
  );
}
