// CPU panel: one row per watched CPU — victim, interruptions/s by class,
// stolen time %, the hypervisor's steal % (where the machine has a steal
// clock), longest stall, and a per-second sparkline.
import type { Line } from '../format.js';
import { col, formatDuration, fmtPercent, fmtRate, joinFit, sparkline } from '../format.js';
import type { Model, Snapshot } from '../model/index.js';
import { cpuHistory, cpuRows } from '../model/index.js';
import { classShort } from './describe.js';
import { framePanel } from './panel.js';

const HOW_SHORT: Record<string, string> = {
  'isolated+nohz_full': 'iso+nohz',
  isolated: 'isolated',
  nohz_full: 'nohz_full',
  housekeeping: 'housekeep',
};

export interface CpuColumns {
  classes: number;
  spark: number;
}

const VICTIM_W = 14;
const FIXED = 4 + 10 + (VICTIM_W + 1) + 7 + 8 + 9; // cpu, how, victim, int/s, stolen, max (+ separators)
const STEAL_W = 7;

/** The steal column is there when the machine has a steal clock isolwatch reads (start.steal). */
export function showsSteal(model: Model): boolean {
  const s = model.start.steal;
  return s !== undefined && s.source !== 'none';
}

export function cpuColumns(width: number, steal = false): CpuColumns {
  const rest = Math.max(0, width - 2 - FIXED - (steal ? STEAL_W + 1 : 0));
  const spark = Math.max(0, Math.min(60, Math.floor(rest * 0.35)));
  return { classes: Math.max(8, rest - spark - 1), spark };
}

export function cpuPanel(model: Model, snap: Snapshot, width: number, height: number, focused: boolean): Line[] {
  const steal = showsSteal(model);
  const c = cpuColumns(width, steal);
  const rows = cpuRows(model, snap);
  const rateLabel = model.opts.replay ? 'avg/s' : 'int/s';
  const columns = [
    col('CPU', 3),
    col('isolation', 9),
    col('victim', VICTIM_W),
    col(rateLabel, 6, 'right'),
    col('by class /s', c.classes),
    col('stolen', 7, 'right'),
    ...(steal ? [col('steal', STEAL_W, 'right')] : []),
    col('max', 8, 'right'),
    col('history /s', c.spark),
  ].join(' ');
  const lines: Line[] = rows.map((r) => {
    const victim = r.stats.victim ? `${r.stats.victim.comm}/${r.stats.victim.tid}` : '-';
    const byClass = joinFit(r.rates.map((x) => `${classShort(x.cls)}:${fmtRate(x.perS)}`), c.classes) || '-';
    const hist = c.spark > 0 ? sparkline(cpuHistory(model, r.cpu, c.spark, snap)) : '';
    const text = [
      col(String(r.cpu), 3, 'right'),
      col(HOW_SHORT[r.how] ?? r.how, 9),
      col(victim, VICTIM_W),
      col(fmtRate(r.totalPerS), 6, 'right'),
      col(byClass, c.classes),
      col(fmtPercent(r.stolenFraction), 7, 'right'),
      ...(steal ? [col(r.stealFraction === undefined ? '-' : fmtPercent(r.stealFraction), STEAL_W, 'right')] : []),
      col(r.stats.maxNs ? formatDuration(r.stats.maxNs) : '-', 8, 'right'),
      hist,
    ].join(' ');
    return [{ text, style: r.stats.violations > 0 ? ('warn' as const) : undefined }];
  });
  const windowS = model.opts.replay ? 'whole recording' : `last ${model.opts.rateWindowS}s`;
  return framePanel(
    {
      title: `CPUs (${rows.length} watched)`,
      // steal is the hypervisor's, beside the interruptions; a VM that cannot show it is said here
      info: `rates over ${windowS}${steal ? '' : model.start.steal?.vm ? '; no steal clock: host time invisible' : ''}`,
      focused,
      columns,
      rows: lines,
      selected: model.sel.cpus,
      empty: 'no watched CPUs',
    },
    width,
    height,
  );
}
