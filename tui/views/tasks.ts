// Task panel: watched tasks (victims and tasks seen issuing PR_ISOL prctls)
// with their isolation state and where it came from, violations, stolen time.
import type { IsolSource } from '../../src/types.js';
import type { Line } from '../format.js';
import { col, fmtCount, formatDuration } from '../format.js';
import type { Model, Snapshot, TaskStats } from '../model/index.js';
import { taskRows } from '../model/index.js';
import { framePanel } from './panel.js';

const SOURCE: Record<IsolSource, string> = {
  kernel: 'kernel PR_ISOL',
  prctl: 'prctl-observed',
  declared: 'declared',
  none: 'none',
};

/** "active (kernel PR_ISOL)", "declared", "none" */
export function isolLabel(t: Pick<TaskStats, 'isol' | 'source'>): string {
  if (t.isol === 'none' && (!t.source || t.source === 'none')) return 'none';
  if (t.isol === 'declared' && (!t.source || t.source === 'declared')) return 'declared';
  return t.source && t.source !== 'none' ? `${t.isol} (${SOURCE[t.source]})` : t.isol;
}

export function taskPanel(model: Model, snap: Snapshot, width: number, height: number, focused: boolean): Line[] {
  const rows = taskRows(snap);
  const columns = [
    col('pid/tid', 11),
    col('comm', 15),
    col('isolation', 25),
    col('viol', 5, 'right'),
    col('ints', 6, 'right'),
    col('stolen', 9, 'right'),
    col('max', 8, 'right'),
    'last PR_ISOL prctl',
  ].join(' ');
  const lines: Line[] = rows.map((t) => {
    const text = [
      col(t.pid === t.tid ? String(t.pid) : `${t.pid}/${t.tid}`, 11),
      col(t.comm, 15),
      col(isolLabel(t), 25),
      col(fmtCount(t.violations), 5, 'right'),
      col(fmtCount(t.interruptions), 6, 'right'),
      col(formatDuration(t.stolenNs), 9, 'right'),
      col(t.maxNs ? formatDuration(t.maxNs) : '-', 8, 'right'),
      t.lastOp ?? '-',
    ].join(' ');
    return [{ text, style: t.violations > 0 ? ('violation' as const) : t.lastOpWarning ? ('warn' as const) : undefined }];
  });
  return framePanel(
    { title: `Tasks (${rows.length})`, focused, columns, rows: lines, selected: model.sel.tasks, empty: 'no tasks seen yet' },
    width,
    height,
  );
}
