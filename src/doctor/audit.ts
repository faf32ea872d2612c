// auditSystem(): reads the isolation set-up of a system (this machine at '/',
// or a fixture tree) and says what is missing, with evidence and remedy.
// Pure with respect to its root: every read goes through SysRoot, nothing is
// written, and the result is plain data for render.ts. The checks are one file
// per group in checks/.
import { defaultWatchedCpus, readCpuTopology, type WatchedCpus } from '../system/cpus.js';
import { readKernelConfig } from './boot.js';
import { checkClocksource } from './checks/clocksource.js';
import { checkTimers } from './checks/timers.js';
import { exists, readList, type Ctx } from './checks/context.js';
import { checkCpusAndBoot } from './checks/cpus.js';
import { checkTlbFlush, checkVm } from './checks/hypervisor.js';
import { checkIrqbalance, checkIrqs } from './checks/irqs.js';
import { checkKernel } from './checks/kernel.js';
import { checkSysctls } from './checks/sysctls.js';
import { checkTasks } from './checks/tasks.js';
import { checkWorkqueues } from './checks/workqueues.js';
import { minus } from './masks.js';
import { SysRoot } from './read.js';
import type { AuditOptions, DoctorFacts, DoctorReport } from './types.js';

export { parseInterrupts } from './checks/irqs.js';

export function auditSystem(opts: AuditOptions = {}): DoctorReport {
  const root = opts.root ?? '/';
  const sys = new SysRoot(root);
  const topo = readCpuTopology(root);
  const watched: WatchedCpus = opts.cpus && opts.cpus.length ? { cpus: [...new Set(opts.cpus)].sort((a, b) => a - b), reason: 'user' } : defaultWatchedCpus(topo);
  const release = sys.line('proc/sys/kernel/osrelease') ?? null;
  const config = readKernelConfig(sys, release);
  const nohzText = sys.text('sys/devices/system/cpu/nohz_full');
  const facts: DoctorFacts = {
    kernel: release,
    config: config.facts,
    btf: exists(root, 'sys/kernel/btf/vmlinux'),
    prIsol: 'absent',
    prIsolEvidence: [],
    cmdline: null,
    online: topo.online,
    isolated: topo.isolated,
    nohzFull: nohzText === undefined ? null : (readList(sys, 'sys/devices/system/cpu/nohz_full') ?? []),
    cpusetIsolated: readList(sys, 'sys/fs/cgroup/cpuset.cpus.isolated') ?? [],
    clocksource: sys.line('sys/devices/system/clocksource/clocksource0/current_clocksource') ?? null,
    sysctl: {},
    thp: null,
    ksm: null,
    irqbalance: { running: false, pids: [], bannedCpus: null, configPath: null },
    irqsOnWatched: 0,
    tasksOnWatched: 0,
    tlbFlush: { label: 'unknown', evidence: '' },
    steal: { clock: 'unknown', evidence: [] },
  };
  const ctx: Ctx = {
    sys,
    cpus: watched.cpus,
    online: topo.online,
    housekeeping: minus(topo.online, watched.cpus),
    findings: [],
    facts,
    config,
    opts,
  };
  checkKernel(ctx);
  checkCpusAndBoot(ctx);
  checkIrqs(ctx);
  checkIrqbalance(ctx);
  checkWorkqueues(ctx);
  checkSysctls(ctx);
  checkClocksource(ctx);
  checkTimers(ctx);
  checkTlbFlush(ctx);
  checkVm(ctx);
  checkTasks(ctx);
  return { type: 'doctor', cpus: watched.cpus, watchedReason: watched.reason, findings: ctx.findings, facts };
}
