// doctor: Tasks allowed on the watched CPUs.
import { parseCpuList } from '../../system/cpus.js';
import { makeFinding } from '../findings.js';
import { intersect, minus } from '../masks.js';
import { EVIDENCE_LIMIT, PF_KTHREAD, list } from './context.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

export function checkTasks(ctx: Ctx): void {
  const { sys, cpus } = ctx;
  const exclude = new Set(ctx.opts.excludePids ?? []);
  const strays: Array<{ pid: number; comm: string; allowed: string }> = [];
  const kthreads: Array<{ pid: number; comm: string; allowed: string }> = [];
  for (const d of sys.list('proc')) {
    if (!/^\d+$/.test(d) || exclude.has(Number(d))) continue;
    // Tasks exit while we scan: a missing file means the task is gone, not an error.
    const status = sys.text(`proc/${d}/status`);
    const stat = sys.text(`proc/${d}/stat`);
    if (status === undefined || stat === undefined) continue;
    const allowedText = /^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1]?.trim();
    if (!allowedText) continue;
    let allowed: number[];
    try {
      allowed = parseCpuList(allowedText);
    } catch {
      continue;
    }
    if (!intersect(allowed, cpus).length) continue;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const flags = Number(fields[6]);
    const comm = /^Name:\s*(.*)$/m.exec(status)?.[1]?.trim() ?? stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const entry = { pid: Number(d), comm, allowed: allowedText };
    if (flags & PF_KTHREAD) {
      // Per-CPU kthreads (one allowed CPU) belong there; unbound ones may wander in.
      if (allowed.length > 1) kthreads.push(entry);
    } else if (minus(allowed, cpus).length > 0) {
      // Allowed only on watched CPUs: the workload that was pinned there on purpose.
      strays.push(entry);
    }
  }
  strays.sort((a, b) => a.pid - b.pid);
  kthreads.sort((a, b) => a.pid - b.pid);
  ctx.facts.tasksOnWatched = strays.length;
  const hk = list(ctx.housekeeping);
  const evidenceOf = (ts: typeof strays): Evidence[] => {
    const ev = ts.slice(0, EVIDENCE_LIMIT).map((t) => ({ path: sys.shown(`proc/${t.pid}/status`), value: `Cpus_allowed_list: ${t.allowed} (${t.comm})` }));
    if (ts.length > EVIDENCE_LIMIT) ev.push({ path: sys.shown('proc'), value: `... and ${ts.length - EVIDENCE_LIMIT} more` });
    return ev;
  };
  if (strays.length) {
    ctx.findings.push(
      makeFinding('tasks-on-isolated', {
        title: `${strays.length} user task${strays.length > 1 ? 's' : ''} allowed on watched CPU ${list(cpus)} and elsewhere`,
        evidence: evidenceOf(strays),
        remedy: [
          `for pid in ${strays.slice(0, 8).map((t) => t.pid).join(' ')}${strays.length > 8 ? ' ...' : ''}; do taskset -apc ${hk} $pid; done`,
          `CPUAffinity=${hk.replace(/,/g, ' ')} in /etc/systemd/system.conf (systemd and everything it starts)`,
          `boot with isolcpus=domain,managed_irq,${list(cpus)} (new tasks then default to housekeeping CPUs)`,
        ],
      }),
    );
  }
  if (kthreads.length) {
    ctx.findings.push(
      makeFinding('kthreads-on-isolated', {
        title: `${kthreads.length} unbound kernel thread${kthreads.length > 1 ? 's' : ''} allowed on watched CPU ${list(cpus)}`,
        evidence: evidenceOf(kthreads),
        remedy: [`taskset -pc ${hk} <pid> for unbound kernel threads (kthreadd's children inherit it)`, `boot with isolcpus=domain,${list(cpus)} or nohz_full=${list(cpus)} (housekeeping keeps them off)`],
      }),
    );
  }
}
