// Which CPUs a tracing command watches: --cpus, else where the --pid tasks
// may run, else the isolated / nohz_full CPUs (or the highest one). Host
// facts only (sysfs, /proc): no BPF.
import { readdirSync, readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { defaultWatchedCpus, formatCpuList, parseCpuList, readCpuTopology, type WatchedCpus } from '../system/cpus.js';

/**
 * CPUs any thread of a process may run on (each thread's Cpus_allowed_list), to watch where
 * --pid runs: a latency-critical worker is often pinned apart from its process's main thread.
 */
function allowedCpus(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new UsageError(`--pid ${pid}: no such process (is it still running? check 'ps -p ${pid}')`);
  }
  const cpus = new Set<number>();
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread exited meanwhile
    }
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(text);
    if (m) for (const c of parseCpuList(m[1])) cpus.add(c);
  }
  return [...cpus];
}

/** The watched CPUs and why; `warnings` says when a --pid can run on none of them. */
export function resolveCpus(cpus: number[] | undefined, pids: number[], warnings: string[] = []): WatchedCpus {
  const topo = readCpuTopology();
  if (cpus) {
    const off = cpus.filter((c) => !topo.online.includes(c));
    if (off.length) throw new UsageError(`--cpus: CPU ${off.join(',')} is not online (online: ${topo.online.join(',')})`);
    for (const pid of pids) {
      const allowed = allowedCpus(pid);
      if (allowed.length && !allowed.some((c) => cpus.includes(c))) {
        warnings.push(
          `pid ${pid} may run only on CPU ${formatCpuList(allowed)}, and --cpus ${formatCpuList(cpus)} watches none of them: nothing of it can be seen (leave out --cpus to watch where it runs)`,
        );
      }
    }
    return { cpus, reason: 'user' };
  }
  const def = defaultWatchedCpus(topo);
  if (pids.length) {
    // watch where the tasks' threads may run: the isolated / nohz_full ones among them if any
    // (a control thread on a housekeeping CPU is not what --pid is about), else all of them
    // when that is narrower than the machine
    const allowed = [...new Set(pids.flatMap(allowedCpus))].sort((a, b) => a - b);
    const quiet = allowed.filter((c) => topo.isolated.includes(c) || topo.nohzFull.includes(c));
    if (quiet.length) return { cpus: quiet, reason: 'pid' };
    if (allowed.length && allowed.length < topo.online.length) return { cpus: allowed, reason: 'pid' };
  }
  return def;
}

