// auditSystem(): reads the isolation set-up of a system (this machine at '/',
// or a fixture tree) and says what is missing, with evidence and remedy.
// Pure with respect to its root: every read goes through SysRoot, nothing is
// written, and the result is plain data for render.ts.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultWatchedCpus, formatCpuList, parseCpuList, readCpuTopology, type WatchedCpus } from '../system/cpus.js';
import { detectPrIsol, PR_ISOL_KALLSYMS, prIsolField } from '../isol/detect.js';
import { kallsymsHas } from '../system/kallsyms.js';
import { detectFromKernelLog, FLUSH_IMPLEMENTATIONS, tlbFlushLabel } from '../system/tlb-flush.js';
import { parseBootParams, readKernelConfig, type KernelConfig } from './boot.js';
import { makeFinding } from './findings.js';
import { intersect, minus, parseCpuMask } from './masks.js';
import { SysRoot } from './read.js';
import type { AuditOptions, BootParams, DoctorFacts, DoctorReport, Evidence, Finding } from './types.js';

/** PF_KTHREAD in the flags field of /proc/PID/stat (include/linux/sched.h). */
const PF_KTHREAD = 0x00200000;

/** Clocksources whose clock reads stay in the vDSO (no syscall). */
const VDSO_CLOCKSOURCES = new Set(['tsc', 'kvm-clock', 'arch_sys_counter', 'hyperv_clocksource_tsc_page', 'xen', 'riscv_clocksource']);

/** How many items an aggregated finding lists as evidence; the title carries the full count. */
const EVIDENCE_LIMIT = 12;

interface Ctx {
  sys: SysRoot;
  cpus: number[];
  online: number[];
  housekeeping: number[];
  findings: Finding[];
  facts: DoctorFacts;
  config: KernelConfig;
  opts: AuditOptions;
}

const list = (cpus: readonly number[]): string => (cpus.length ? formatCpuList(cpus) : '(none)');
const shownValue = (v: string | undefined): string => (v === undefined ? 'missing' : v.trim() === '' ? '(empty)' : v.trim());

/** A hex mask for commands that take masks (workqueue cpumask, default_smp_affinity). */
function toMask(cpus: readonly number[]): string {
  const groups: number[] = [];
  for (const c of cpus) {
    const g = Math.floor(c / 32);
    while (groups.length <= g) groups.push(0);
    groups[g] = (groups[g] | (1 << (c % 32))) >>> 0;
  }
  if (!groups.length) return '0';
  return groups
    .map((g, i) => (i === groups.length - 1 ? g.toString(16) : g.toString(16).padStart(8, '0')))
    .reverse()
    .join(',');
}

function readList(sys: SysRoot, rel: string): number[] | undefined {
  const t = sys.text(rel);
  if (t === undefined) return undefined;
  const v = t.trim();
  // Kernels with an unallocated mask print "(null)".
  if (v === '' || v === '(null)') return [];
  try {
    return parseCpuList(v);
  } catch {
    return undefined;
  }
}

function readMask(sys: SysRoot, rel: string): number[] | undefined {
  const t = sys.text(rel);
  if (t === undefined) return undefined;
  try {
    return parseCpuMask(t);
  } catch {
    return undefined;
  }
}

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
  checkTlbFlush(ctx);
  checkTasks(ctx);
  return { type: 'doctor', cpus: watched.cpus, watchedReason: watched.reason, findings: ctx.findings, facts };
}

function exists(root: string, rel: string): boolean {
  try {
    statSync(join(root, rel));
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Kernel build: config, BTF, BPF, PR_ISOL

function configEvidence(ctx: Ctx, key: string): Evidence {
  return { path: ctx.config.facts.source ?? 'kernel config', value: ctx.config.lines[key] ?? 'unknown' };
}

function checkKernel(ctx: Ctx): void {
  const { sys, config, facts } = ctx;
  const cfg = config.facts;
  if (cfg.source === null) {
    ctx.findings.push(
      makeFinding('kernel-config-unreadable', {
        title: 'Kernel config not found: cannot tell what this kernel was built with',
        evidence: [
          { path: sys.shown('proc/config.gz'), value: 'missing' },
          { path: sys.shown(`boot/config-${facts.kernel ?? '<release>'}`), value: 'missing' },
        ],
        remedy: ['modprobe configs   # provides /proc/config.gz', `install the kernel's config as /boot/config-${facts.kernel ?? '$(uname -r)'}`],
      }),
    );
  }

  if (!facts.btf || cfg.DEBUG_INFO_BTF === 'n') {
    const evidence: Evidence[] = [{ path: sys.shown('sys/kernel/btf/vmlinux'), value: facts.btf ? 'present' : 'missing' }];
    if (cfg.source) evidence.push(configEvidence(ctx, 'DEBUG_INFO_BTF'));
    ctx.findings.push(
      makeFinding('kernel-no-btf', {
        title: 'Kernel BTF missing: isolwatch cannot attach its programs',
        evidence,
        remedy: ['boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels are)'],
      }),
    );
  }
  if (cfg.BPF_SYSCALL === 'n' || cfg.BPF === 'n') {
    ctx.findings.push(
      makeFinding('kernel-no-bpf', {
        title: 'Kernel built without the bpf() syscall: isolwatch cannot load programs',
        evidence: [configEvidence(ctx, 'BPF'), configEvidence(ctx, 'BPF_SYSCALL')],
        remedy: ['boot a kernel built with CONFIG_BPF=y and CONFIG_BPF_SYSCALL=y'],
      }),
    );
  }

  // One detector for the whole tool (src/isol/detect.ts), so doctor agrees with
  // the start record's pr_isol: positive evidence only, BTF when the caller can
  // query it, else the ABI's prctl handlers in kallsyms.
  const detection = detectPrIsol({ root: ctx.sys.root, hasStructField: ctx.opts.hasStructField });
  facts.prIsol = prIsolField(detection);
  facts.prIsolEvidence = detection.evidence.map((line) => (line.startsWith(ctx.sys.root) ? sys.shown(line.slice(ctx.sys.root.length)) : line));
  const kallsyms = sys.text('proc/kallsyms');
  let evidence: Evidence;
  if (detection.via === 'btf:task_isol_info' || detection.via === 'btf:isol_info') {
    evidence = { path: sys.shown('sys/kernel/btf/vmlinux'), value: `task_struct.${detection.via.slice(4)} present` };
  } else if (detection.via === 'kallsyms') {
    evidence = { path: sys.shown('proc/kallsyms'), value: kallsymsHas(kallsyms ?? '', PR_ISOL_KALLSYMS).join(', ') };
  } else {
    evidence = {
      path: sys.shown('proc/kallsyms'),
      value: (kallsyms === undefined ? 'unreadable' : 'no prctl_task_isol_* symbols') + (ctx.opts.hasStructField ? '; BTF: task_struct has no task_isol_info/isol_info' : ''),
    };
  }
  if (facts.prIsol === 'kernel') {
    ctx.findings.push(makeFinding('pr-isol-present', { title: 'PR_ISOL task isolation ABI present', evidence: [evidence], remedy: [] }));
  } else {
    ctx.findings.push(
      makeFinding('pr-isol-absent', {
        title: 'PR_ISOL task isolation ABI absent (stock kernel): nothing quiesces kernel work on return to user space',
        evidence: [evidence],
        remedy: [
          'applications must not issue PR_ISOL prctls (63-67) here: 65 is PR_SET_MDWE, 67 PR_SET_MEMORY_MERGE',
          'rely on nohz_full=, isolcpus= and the sysctls below; or boot a kernel carrying the task-isolation patches',
        ],
      }),
    );
  }
}

// ---------------------------------------------------------------------------
// Watched CPUs, boot parameters and what took effect

function checkCpusAndBoot(ctx: Ctx): void {
  const { sys, facts, cpus } = ctx;
  const cfg = ctx.config.facts;
  const offline = ctx.online.length ? minus(cpus, ctx.online) : [];
  if (offline.length) {
    ctx.findings.push(
      makeFinding('cpus-not-online', {
        title: `CPU ${list(offline)} not online`,
        evidence: [{ path: sys.shown('sys/devices/system/cpu/online'), value: list(ctx.online) }],
        remedy: [`choose CPUs from ${list(ctx.online)} (--cpus)`, `or bring them online: echo 1 > /sys/devices/system/cpu/cpu<N>/online`],
      }),
    );
  }

  const raw = sys.text('proc/cmdline');
  const possible = readList(sys, 'sys/devices/system/cpu/possible') ?? ctx.online;
  const boot: BootParams | null = raw === undefined ? null : parseBootParams(raw, possible.length ? Math.max(...possible) : undefined);
  facts.cmdline = boot;
  const cmdlinePath = sys.shown('proc/cmdline');
  const nohzPath = sys.shown('sys/devices/system/cpu/nohz_full');
  const isolPath = sys.shown('sys/devices/system/cpu/isolated');
  const nohzNow = facts.nohzFull ?? [];
  const isolatedNow = [...new Set([...facts.isolated, ...facts.cpusetIsolated])].sort((a, b) => a - b);
  const want = list(cpus);
  // What the command line said about a parameter, even when its CPU list was unreadable.
  const said = (name: string, parsed: { text: string } | undefined): string =>
    parsed?.text ?? boot?.unparsed.find((p) => p.startsWith(name + '=')) ?? `no ${name}=`;

  if (boot?.unparsed.length) {
    ctx.findings.push(
      makeFinding('cmdline-unparsed', {
        title: 'Kernel command line CPU lists the doctor could not read',
        evidence: boot.unparsed.map((p) => ({ path: cmdlinePath, value: p })),
        remedy: ['write the lists as N or N-M, comma separated, to have them checked'],
      }),
    );
  }

  // nohz_full: asked for on the command line vs. what sysfs says took effect.
  let nohzReported = false;
  const noNohzBuild = cfg.NO_HZ_FULL === 'n' || facts.nohzFull === null;
  if (boot?.nohz_full) {
    const asked = boot.nohz_full.cpus;
    const missing = minus(asked, nohzNow);
    if (missing.length) {
      nohzReported = true;
      const evidence: Evidence[] = [
        { path: cmdlinePath, value: boot.nohz_full.text },
        { path: nohzPath, value: shownValue(sys.text('sys/devices/system/cpu/nohz_full')) },
      ];
      if (cfg.source) evidence.push(configEvidence(ctx, 'NO_HZ_FULL'));
      if (noNohzBuild) {
        ctx.findings.push(
          makeFinding('nohz-full-ignored', {
            title: 'nohz_full= on the kernel command line was silently ignored: kernel built without CONFIG_NO_HZ_FULL',
            evidence,
            remedy: [
              'boot a kernel built with CONFIG_NO_HZ_FULL=y (distribution "rt"/"realtime" flavours and most server kernels have it)',
              `keep nohz_full=${list(asked)} on its command line`,
            ],
          }),
        );
      } else {
        const partial = nohzNow.length > 0;
        ctx.findings.push(
          makeFinding('nohz-full-ignored', {
            title: partial
              ? `nohz_full= took effect for CPU ${list(intersect(asked, nohzNow))} only, not ${list(missing)}`
              : 'nohz_full= on the kernel command line did not take effect',
            evidence,
            remedy: [
              "check the boot log: dmesg | grep -i -e nohz -e housekeeping (the kernel refuses the boot CPU and lists that leave no housekeeping CPU)",
              `boot with nohz_full=${list(minus(asked, [0]))} leaving CPU 0 for housekeeping`,
            ],
            severity: partial ? 'warning' : 'error',
          }),
        );
      }
    }
  }
  if (!nohzReported && noNohzBuild) {
    nohzReported = true;
    const evidence: Evidence[] = [{ path: nohzPath, value: shownValue(sys.text('sys/devices/system/cpu/nohz_full')) }];
    if (cfg.source) evidence.unshift(configEvidence(ctx, 'NO_HZ_FULL'));
    ctx.findings.push(
      makeFinding('kernel-no-nohz-full', {
        title: 'Kernel built without CONFIG_NO_HZ_FULL: the tick cannot be stopped on any CPU',
        evidence,
        remedy: ['boot a kernel built with CONFIG_NO_HZ_FULL=y', `then boot it with nohz_full=${want}`],
      }),
    );
  }
  if (!nohzReported) {
    const notNohz = minus(cpus, nohzNow);
    if (notNohz.length) {
      ctx.findings.push(
        makeFinding('cpus-not-nohz-full', {
          title: `Tick not stopped on CPU ${list(notNohz)}: not in nohz_full`,
          evidence: [
            { path: nohzPath, value: shownValue(sys.text('sys/devices/system/cpu/nohz_full')) },
            { path: cmdlinePath, value: said('nohz_full', boot?.nohz_full) },
          ],
          remedy: [`boot with nohz_full=${list(cpus)}`],
        }),
      );
    }
  }

  // isolcpus / cpuset isolation.
  let isolReported = false;
  const isolDomain = boot?.isolcpus && boot.isolcpus.flags.includes('domain') ? boot.isolcpus : undefined;
  if (isolDomain) {
    const missing = minus(isolDomain.cpus, facts.isolated);
    if (missing.length) {
      isolReported = true;
      const evidence: Evidence[] = [
        { path: cmdlinePath, value: isolDomain.text },
        { path: isolPath, value: shownValue(sys.text('sys/devices/system/cpu/isolated')) },
      ];
      if (cfg.source) evidence.push(configEvidence(ctx, 'CPU_ISOLATION'));
      ctx.findings.push(
        makeFinding('isolcpus-ignored', {
          title:
            cfg.CPU_ISOLATION === 'n'
              ? 'isolcpus= on the kernel command line was silently ignored: kernel built without CONFIG_CPU_ISOLATION'
              : `isolcpus= did not take effect for CPU ${list(missing)}`,
          evidence,
          remedy:
            cfg.CPU_ISOLATION === 'n'
              ? ['boot a kernel built with CONFIG_CPU_ISOLATION=y']
              : ['check the boot log: dmesg | grep -i -e isolcpus -e housekeeping', `boot with isolcpus=domain,managed_irq,${list(minus(isolDomain.cpus, [0]))} leaving CPU 0 for housekeeping`],
        }),
      );
    }
  }
  if (cfg.CPU_ISOLATION === 'n' && !isolReported) {
    ctx.findings.push(
      makeFinding('kernel-no-cpu-isolation', {
        title: 'Kernel built without CONFIG_CPU_ISOLATION: isolcpus= and housekeeping masks are unavailable',
        evidence: [configEvidence(ctx, 'CPU_ISOLATION')],
        remedy: ['boot a kernel built with CONFIG_CPU_ISOLATION=y', 'meanwhile: a cpuset isolated partition (cgroup v2 cpuset.cpus.partition=isolated)'],
      }),
    );
  }
  if (!isolReported) {
    const notIsolated = minus(cpus, isolatedNow);
    if (notIsolated.length) {
      const evidence: Evidence[] = [
        { path: isolPath, value: shownValue(sys.text('sys/devices/system/cpu/isolated')) },
        { path: cmdlinePath, value: said('isolcpus', boot?.isolcpus) },
      ];
      const cpusetText = sys.text('sys/fs/cgroup/cpuset.cpus.isolated');
      if (cpusetText !== undefined) evidence.push({ path: sys.shown('sys/fs/cgroup/cpuset.cpus.isolated'), value: shownValue(cpusetText) });
      ctx.findings.push(
        makeFinding('cpus-not-isolated', {
          title: `CPU ${list(notIsolated)} not isolated: the scheduler balances other tasks onto it`,
          evidence,
          remedy: [
            `boot with isolcpus=domain,managed_irq,${list(notIsolated)}`,
            `or a cpuset isolated partition: echo ${list(notIsolated)} > <cgroup>/cpuset.cpus; echo isolated > <cgroup>/cpuset.cpus.partition`,
          ],
        }),
      );
    }
  }
  if (boot?.isolcpus && !boot.isolcpus.flags.includes('managed_irq') && intersect(cpus, boot.isolcpus.cpus).length) {
    ctx.findings.push(
      makeFinding('isolcpus-no-managed-irq', {
        title: 'isolcpus= without managed_irq: managed device IRQs may be placed on isolated CPUs',
        evidence: [{ path: cmdlinePath, value: boot.isolcpus.text }],
        remedy: [`boot with isolcpus=${[...new Set([...boot.isolcpus.flags, 'managed_irq'])].join(',')},${list(boot.isolcpus.cpus)}`],
      }),
    );
  }

  // RCU callbacks: offloaded by rcu_nocbs= or implied by nohz_full that took effect.
  const nocbs = boot?.rcu_nocbs?.cpus;
  const offloaded = nocbs === 'all' ? cpus : [...new Set([...(nocbs ?? []), ...nohzNow])];
  const notOffloaded = minus(cpus, offloaded);
  if (notOffloaded.length) {
    const evidence: Evidence[] = [{ path: cmdlinePath, value: said('rcu_nocbs', boot?.rcu_nocbs) }, { path: nohzPath, value: shownValue(sys.text('sys/devices/system/cpu/nohz_full')) }];
    if (cfg.source) evidence.push(configEvidence(ctx, 'RCU_NOCB_CPU'));
    ctx.findings.push(
      makeFinding('rcu-nocbs-missing', {
        title: `RCU callbacks not offloaded from CPU ${list(notOffloaded)}`,
        evidence,
        remedy: cfg.RCU_NOCB_CPU === 'n' ? ['boot a kernel built with CONFIG_RCU_NOCB_CPU=y', `with rcu_nocbs=${list(notOffloaded)}`] : [`boot with rcu_nocbs=${list(notOffloaded)} (nohz_full= implies it)`],
      }),
    );
  }
}

// ---------------------------------------------------------------------------
// Device interrupts

interface IrqLine {
  name: string;
  counts: number[];
}

/** /proc/interrupts: numbered lines only; the name is what follows the chip and hwirq columns. */
export function parseInterrupts(text: string): Map<number, IrqLine> {
  const lines = text.split('\n');
  const ncpu = (lines[0] ?? '').trim().split(/\s+/).filter((t) => /^CPU\d+$/.test(t)).length;
  const out = new Map<number, IrqLine>();
  for (const line of lines.slice(1)) {
    const m = /^\s*(\d+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const tokens = m[2].trim().split(/\s+/);
    const counts = tokens.slice(0, ncpu).map(Number);
    const rest = tokens.slice(ncpu);
    // chip, hwirq (e.g. "5-edge"), optional trigger word (arm64 "Level"/"Edge"), then action names.
    let i = 2;
    if (/^(level|edge)$/i.test(rest[i] ?? '')) i++;
    out.set(Number(m[1]), { name: rest.slice(i).join(' '), counts });
  }
  return out;
}

function checkIrqs(ctx: Ctx): void {
  const { sys, cpus, facts } = ctx;
  const hk = ctx.housekeeping;
  const defRel = 'proc/irq/default_smp_affinity';
  const def = readMask(sys, defRel);
  if (def && intersect(def, cpus).length) {
    ctx.findings.push(
      makeFinding('irq-default-affinity', {
        title: facts.cmdline?.irqaffinity
          ? `${facts.cmdline.irqaffinity.text} on the command line, yet new IRQs default to CPUs including ${list(intersect(def, cpus))}`
          : `New IRQs default to CPUs including ${list(intersect(def, cpus))}`,
        evidence: [
          { path: sys.shown(defRel), value: shownValue(sys.text(defRel)) },
          { path: sys.shown('proc/cmdline'), value: facts.cmdline?.irqaffinity?.text ?? 'no irqaffinity=' },
        ],
        remedy: [`boot with irqaffinity=${list(hk)}`, `echo ${toMask(hk)} > /proc/irq/default_smp_affinity`],
      }),
    );
  }

  const interruptsText = sys.text('proc/interrupts');
  const names = interruptsText === undefined ? undefined : parseInterrupts(interruptsText);
  const hits: Array<{ irq: number; evidence: Evidence }> = [];
  const irqs = sys
    .list('proc/irq')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .sort((a, b) => a - b);
  for (const irq of irqs) {
    // /proc/interrupts lists only IRQs with a handler (or counts); the others never fire.
    const line = names?.get(irq);
    if (names && !line) continue;
    const effRel = `proc/irq/${irq}/effective_affinity_list`;
    const affRel = `proc/irq/${irq}/smp_affinity_list`;
    const eff = readList(sys, effRel);
    const aff = readList(sys, affRel);
    // Effective affinity is where it fires now; the affinity list is where the kernel may move it.
    const effHit = eff ? intersect(eff, cpus) : [];
    const affHit = aff ? intersect(aff, cpus) : [];
    if (!effHit.length && !affHit.length) continue;
    const useEff = effHit.length > 0 || !aff;
    const rel = useEff ? effRel : affRel;
    const counts = line ? cpus.filter((c) => (line.counts[c] ?? 0) > 0).map((c) => `${line.counts[c]} on CPU ${c}`) : [];
    const name = line?.name ? ` ${line.name}` : '';
    hits.push({
      irq,
      evidence: { path: sys.shown(rel), value: `${shownValue(sys.text(rel))} (IRQ ${irq}${name}${counts.length ? '; ' + counts.join(', ') + ' since boot' : ''})` },
    });
  }
  facts.irqsOnWatched = hits.length;
  if (hits.length) {
    const shown = hits.slice(0, EVIDENCE_LIMIT);
    const evidence = shown.map((h) => h.evidence);
    if (hits.length > shown.length) evidence.push({ path: sys.shown('proc/irq'), value: `... and ${hits.length - shown.length} more` });
    ctx.findings.push(
      makeFinding('irq-on-isolated-cpu', {
        title: `${hits.length} IRQ${hits.length > 1 ? 's' : ''} can fire on watched CPU ${list(cpus)}`,
        evidence,
        remedy: [
          `for irq in ${hits.map((h) => h.irq).join(' ')}; do echo ${list(hk)} > /proc/irq/$irq/smp_affinity_list; done`,
          `boot with irqaffinity=${list(hk)}`,
          'managed IRQs refuse the write (EIO): boot with isolcpus=managed_irq,...',
        ],
      }),
    );
  }
}

function checkIrqbalance(ctx: Ctx): void {
  const { sys, cpus, facts } = ctx;
  const pids: number[] = [];
  for (const d of sys.list('proc')) {
    if (!/^\d+$/.test(d)) continue;
    if (sys.line(`proc/${d}/comm`) === 'irqbalance') pids.push(Number(d));
  }
  let banned: number[] | null = null;
  let configPath: string | null = null;
  let configLine = 'missing';
  for (const rel of ['etc/default/irqbalance', 'etc/sysconfig/irqbalance']) {
    const text = sys.text(rel);
    if (text === undefined) continue;
    configPath = sys.shown(rel);
    configLine = 'no IRQBALANCE_BANNED_CPULIST / IRQBALANCE_BANNED_CPUS';
    for (const line of text.split('\n')) {
      const m = /^\s*(IRQBALANCE_BANNED_CPULIST|IRQBALANCE_BANNED_CPUS)\s*=\s*"?([^"#]*)"?/.exec(line);
      if (!m || !m[2].trim()) continue;
      try {
        const cpusBanned = m[1] === 'IRQBALANCE_BANNED_CPULIST' ? parseCpuList(m[2]) : parseCpuMask(m[2]);
        banned = [...new Set([...(banned ?? []), ...cpusBanned])].sort((a, b) => a - b);
        configLine = line.trim();
      } catch {
        configLine = `${line.trim()} (unreadable CPU list)`;
      }
    }
    break;
  }
  facts.irqbalance = { running: pids.length > 0, pids, bannedCpus: banned, configPath };
  if (!pids.length) return;
  // irqbalance leaves isolated and nohz_full CPUs alone by itself; the rest must be banned.
  const covered = [...(banned ?? []), ...facts.isolated, ...(facts.nohzFull ?? [])];
  const exposed = minus(cpus, covered);
  if (!exposed.length) return;
  ctx.findings.push(
    makeFinding('irqbalance-moves-irqs', {
      title: `irqbalance is running and may move IRQs onto CPU ${list(exposed)}`,
      evidence: [
        { path: sys.shown(`proc/${pids[0]}/comm`), value: 'irqbalance' },
        { path: configPath ?? sys.shown('etc/default/irqbalance'), value: configLine },
      ],
      remedy: [
        `IRQBALANCE_BANNED_CPULIST=${list([...(banned ?? []), ...exposed])} in ${configPath ?? '/etc/default/irqbalance'}, then systemctl restart irqbalance`,
        'or: systemctl disable --now irqbalance (and set affinities once at boot)',
      ],
    }),
  );
}

// ---------------------------------------------------------------------------
// Unbound workqueues

function checkWorkqueues(ctx: Ctx): void {
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

// ---------------------------------------------------------------------------
// Sysctls and mm knobs

function sysctl(ctx: Ctx, name: string): string | undefined {
  const v = ctx.sys.line(`proc/sys/${name.replace(/\./g, '/')}`);
  ctx.facts.sysctl[name] = v ?? null;
  return v;
}

function sysctlEvidence(ctx: Ctx, name: string): Evidence {
  return { path: ctx.sys.shown(`proc/sys/${name.replace(/\./g, '/')}`), value: ctx.facts.sysctl[name] ?? 'missing' };
}

function checkSysctls(ctx: Ctx): void {
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

function checkClocksource(ctx: Ctx): void {
  const cs = ctx.facts.clocksource;
  if (cs === null || VDSO_CLOCKSOURCES.has(cs)) return;
  const rel = 'sys/devices/system/clocksource/clocksource0/current_clocksource';
  const available = ctx.sys.line('sys/devices/system/clocksource/clocksource0/available_clocksource');
  const evidence: Evidence[] = [{ path: ctx.sys.shown(rel), value: cs }];
  if (available !== undefined) evidence.push({ path: ctx.sys.shown('sys/devices/system/clocksource/clocksource0/available_clocksource'), value: available });
  const tsc = available === undefined || available.split(/\s+/).includes('tsc');
  ctx.findings.push(
    makeFinding('clocksource-no-vdso', {
      title: `Clocksource ${cs} has no vDSO: every clock_gettime() is a syscall`,
      evidence,
      remedy: tsc
        ? [`echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource`, 'boot with clocksource=tsc tsc=reliable if the kernel marked the TSC unstable']
        : ['select a vDSO-capable clocksource (tsc, kvm-clock, arch_sys_counter) from available_clocksource'],
    }),
  );
}

// ---------------------------------------------------------------------------
// Remote TLB flushes: IPIs (seen) or the hypervisor (unseen)

function checkTlbFlush(ctx: Ctx): void {
  const { sys } = ctx;
  const kallsyms = sys.text('proc/kallsyms');
  if (kallsyms === undefined) return;
  const present = kallsymsHas(kallsyms, Object.keys(FLUSH_IMPLEMENTATIONS));
  if (!present.length) return; // not x86: no such functions
  const t = detectFromKernelLog(sys.kernelLog(), present);
  ctx.facts.tlbFlush = { label: tlbFlushLabel(t), evidence: t.evidence };
  if (t.mode === 'ipi') return;
  const evidence: Evidence[] = [
    { path: sys.shown('proc/kallsyms'), value: present.join(', ') },
    { path: sys.shown('dev/kmsg'), value: t.evidence },
  ];
  const live = "'isolwatch watch' names the mechanism from the kernel's own code in its start record (tlb_flush)";
  if (t.mode === 'hypervisor') {
    ctx.findings.push(
      makeFinding('tlb-flush-hypervisor', {
        title: `Remote TLB flushes go through the hypervisor (${t.via}): shootdowns cannot be seen in this guest`,
        evidence,
        remedy: [
          "keep shootdowns away from the isolated task's mm: no munmap/mprotect/madvise in threads that share it during the run",
          'transparent_hugepage=never, KSM off and kernel.numa_balancing=0 (their flushes too)',
          'on the host: dedicated, pinned vCPUs; watch the steal time of the isolated vCPUs',
        ],
      }),
    );
  } else if (t.mode === 'pv-ipi') {
    ctx.findings.push(
      makeFinding('tlb-flush-paravirt', {
        title: `Paravirtual TLB flush (${t.via}): IPIs to running vCPUs only`,
        evidence,
        remedy: ["keep shootdowns away from the isolated task's mm: no munmap/mprotect/madvise in threads that share it during the run"],
      }),
    );
  } else {
    ctx.findings.push(makeFinding('tlb-flush-unknown', { title: 'How remote TLB flushes are done here is unknown', evidence, remedy: [live] }));
  }
}

// ---------------------------------------------------------------------------
// Tasks allowed on the watched CPUs

function checkTasks(ctx: Ctx): void {
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
