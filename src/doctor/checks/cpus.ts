// doctor: Watched CPUs, boot parameters and what took effect.
import { parseBootParams } from '../boot.js';
import { makeFinding } from '../findings.js';
import { intersect, minus } from '../masks.js';
import { list, readList, shownValue } from './context.js';
import { configEvidence } from './kernel.js';
import type { BootParams, Evidence } from '../types.js';
import type { Ctx } from './context.js';

/** What the kernel command line asked for and what took effect in sysfs, for the checks below. */
interface BootView {
  boot: BootParams | null;
  cmdlinePath: string;
  nohzPath: string;
  isolPath: string;
  nohzNow: number[];
  isolatedNow: number[];
  want: string;
  /** what the command line said about a parameter, even when its CPU list was unreadable */
  said: (name: string, parsed: { text: string } | undefined) => string;
}

/** The watched CPUs against the boot parameters: online, nohz_full, isolation, RCU offloading. */
export function checkCpusAndBoot(ctx: Ctx): void {
  checkOnline(ctx);
  const v = bootView(ctx);
  checkNohzFull(ctx, v);
  checkIsolation(ctx, v);
  checkRcuNocbs(ctx, v);
}

function checkOnline(ctx: Ctx): void {
  const { sys, cpus } = ctx;
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
}

function bootView(ctx: Ctx): BootView {
  const { sys, facts, cpus } = ctx;
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
  return { boot, cmdlinePath, nohzPath, isolPath, nohzNow, isolatedNow, want, said };
}

function checkNohzFull(ctx: Ctx, v: BootView): void {
  const { sys, facts, cpus } = ctx;
  const cfg = ctx.config.facts;
  const { boot, cmdlinePath, nohzPath, nohzNow, want, said } = v;
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
}

function checkIsolation(ctx: Ctx, v: BootView): void {
  const { sys, facts, cpus } = ctx;
  const cfg = ctx.config.facts;
  const { boot, cmdlinePath, isolPath, isolatedNow, said } = v;
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
}

function checkRcuNocbs(ctx: Ctx, v: BootView): void {
  const { sys, cpus } = ctx;
  const cfg = ctx.config.facts;
  const { boot, cmdlinePath, nohzPath, nohzNow, said } = v;
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
