// doctor: Unbound workqueues.
import { makeFinding } from '../findings.js';
import { intersect } from '../masks.js';
import { EVIDENCE_LIMIT, list, readMask, shownValue, toMask } from './context.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

export function checkWorkqueues(ctx: Ctx): void {
  const { sys, cpus } = ctx;
  const base = 'sys/devices/virtual/workqueue';
  const global = readMask(sys, `${base}/cpumask`);
  if (!global) return;
  const hit = intersect(global, cpus);
  if (!hit.length) return;
  const evidence: Evidence[] = [{ path: sys.shown(`${base}/cpumask`), value: shownValue(sys.text(`${base}/cpumask`)) }];
  // Per-workqueue masks are narrowed by the global one, so they matter only when it includes the CPUs.
  const perWq: string[] = [];
  for (const d of sys.list(base)) {
    if (d.startsWith('cpumask')) continue;
    const m = readMask(sys, `${base}/${d}/cpumask`);
    if (m && intersect(m, cpus).length) {
      perWq.push(d);
      if (evidence.length < EVIDENCE_LIMIT) evidence.push({ path: sys.shown(`${base}/${d}/cpumask`), value: shownValue(sys.text(`${base}/${d}/cpumask`)) });
    }
  }
  const mask = toMask(ctx.housekeeping);
  ctx.findings.push(
    makeFinding('workqueue-unbound-on-isolated', {
      title: `Unbound workqueues may run on CPU ${list(hit)}`,
      evidence,
      remedy: [
        `echo ${mask} > /sys/devices/virtual/workqueue/cpumask`,
        ...perWq.slice(0, 4).map((wq) => `echo ${mask} > /sys/devices/virtual/workqueue/${wq}/cpumask`),
        `boot with workqueue.unbound_cpus=${list(ctx.housekeeping)}`,
      ],
    }),
  );
}
