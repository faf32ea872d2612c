// doctor: Sysctls and mm knobs.
import { parseCpuList } from '../../system/cpus.js';
import { makeFinding } from '../findings.js';
import { intersect, minus } from '../masks.js';
import { list } from './context.js';
import type { Evidence } from '../types.js';
import type { Ctx } from './context.js';

function sysctl(ctx: Ctx, name: string): string | undefined {
  const v = ctx.sys.line(`proc/sys/${name.replace(/\./g, '/')}`);
  ctx.facts.sysctl[name] = v ?? null;
  return v;
}

function sysctlEvidence(ctx: Ctx, name: string): Evidence {
  return { path: ctx.sys.shown(`proc/sys/${name.replace(/\./g, '/')}`), value: ctx.facts.sysctl[name] ?? 'missing' };
}

export function checkSysctls(ctx: Ctx): void {
  const { sys, cpus, facts } = ctx;
  const hk = list(ctx.housekeeping);

  // Lockup detectors.
  const watchdog = sysctl(ctx, 'kernel.watchdog');
  const nmi = sysctl(ctx, 'kernel.nmi_watchdog');
  const soft = sysctl(ctx, 'kernel.soft_watchdog');
  const maskText = sysctl(ctx, 'kernel.watchdog_cpumask');
  let wdMask: number[] | undefined;
  try {
    wdMask = maskText === undefined ? undefined : parseCpuList(maskText);
  } catch {
    wdMask = undefined;
  }
  const detectorsOn = watchdog !== '0' && (watchdog !== undefined || nmi === '1' || soft === '1');
  if (detectorsOn && wdMask && intersect(wdMask, cpus).length) {
    const evidence = [sysctlEvidence(ctx, 'kernel.watchdog_cpumask'), sysctlEvidence(ctx, 'kernel.nmi_watchdog')];
    if (watchdog !== undefined) evidence.push(sysctlEvidence(ctx, 'kernel.watchdog'));
    ctx.findings.push(
      makeFinding('watchdog-on-isolated', {
        title: `Lockup detectors run on CPU ${list(intersect(wdMask, cpus))}${nmi === '1' ? ' (with NMI watchdog)' : ''}`,
        evidence,
        remedy: [`sysctl -w kernel.watchdog_cpumask=${hk}`, ...(nmi === '1' ? ['sysctl -w kernel.nmi_watchdog=0'] : []), 'or boot with nowatchdog'],
      }),
    );
  }

  // vmstat: recent kernels skip isolated CPUs, so it is advice there, a warning elsewhere.
  const statInterval = sysctl(ctx, 'vm.stat_interval');
  if (statInterval !== undefined && Number(statInterval) < 10) {
    const quiet = [...facts.isolated, ...facts.cpusetIsolated, ...(facts.nohzFull ?? [])];
    const allIsolated = minus(cpus, quiet).length === 0;
    ctx.findings.push(
      makeFinding('vmstat-interval-low', {
        title: `vm.stat_interval is ${statInterval} s: vmstat_update work every ${statInterval} s on CPUs with dirty counters`,
        evidence: [sysctlEvidence(ctx, 'vm.stat_interval')],
        remedy: ['sysctl -w vm.stat_interval=10'],
        severity: allIsolated ? 'info' : 'warning',
        why: allIsolated
          ? 'The watched CPUs are isolated: kernels >= 6.5 do not queue vmstat_update on them; older kernels still do every vm.stat_interval seconds.'
          : undefined,
      }),
    );
  }

  const numa = sysctl(ctx, 'kernel.numa_balancing');
  if (numa !== undefined && numa !== '0') {
    ctx.findings.push(
      makeFinding('numa-balancing-on', {
        title: 'NUMA balancing is on: hinting faults and TLB shootdowns',
        evidence: [sysctlEvidence(ctx, 'kernel.numa_balancing')],
        remedy: ['sysctl -w kernel.numa_balancing=0', 'or boot with numa_balancing=disable'],
      }),
    );
  }

  const thpRel = 'sys/kernel/mm/transparent_hugepage/enabled';
  const thpText = sys.line(thpRel);
  facts.thp = thpText === undefined ? null : (/\[(\w+)\]/.exec(thpText)?.[1] ?? thpText);
  if (facts.thp === 'always' || facts.thp === 'madvise') {
    ctx.findings.push(
      makeFinding('thp-enabled', {
        title: facts.thp === 'always' ? 'Transparent huge pages always on: khugepaged works behind the task' : 'Transparent huge pages on for madvise() regions',
        evidence: [{ path: sys.shown(thpRel), value: thpText! }],
        remedy: ['echo never > /sys/kernel/mm/transparent_hugepage/enabled', 'or boot with transparent_hugepage=never; use hugetlbfs for large buffers'],
        severity: facts.thp === 'always' ? 'warning' : 'info',
      }),
    );
  }

  const ksmRel = 'sys/kernel/mm/ksm/run';
  facts.ksm = sys.line(ksmRel) ?? null;
  if (facts.ksm === '1') {
    ctx.findings.push(
      makeFinding('ksm-running', {
        title: 'KSM is merging pages (ksmd running)',
        evidence: [{ path: sys.shown(ksmRel), value: facts.ksm }],
        remedy: ['echo 0 > /sys/kernel/mm/ksm/run', 'or echo 2 > /sys/kernel/mm/ksm/run to also unmerge merged pages'],
      }),
    );
  }

  const tm = sysctl(ctx, 'kernel.timer_migration');
  if (tm === '1') {
    ctx.findings.push(
      makeFinding('timer-migration-on', {
        title: 'Timer migration is on',
        evidence: [sysctlEvidence(ctx, 'kernel.timer_migration')],
        remedy: ['sysctl -w kernel.timer_migration=0 if timers show up on idle isolated CPUs'],
      }),
    );
  }

  const rt = sysctl(ctx, 'kernel.sched_rt_runtime_us');
  if (rt !== undefined && rt !== '-1') {
    ctx.findings.push(
      makeFinding('rt-throttling-on', {
        title: `RT throttling is on: SCHED_FIFO tasks get at most ${rt} us per period`,
        evidence: [sysctlEvidence(ctx, 'kernel.sched_rt_runtime_us')],
        remedy: ['sysctl -w kernel.sched_rt_runtime_us=-1 (for busy-polling SCHED_FIFO tasks on isolated CPUs)'],
      }),
    );
  }
}
