// doctor on fixture trees: a well-tuned machine (nothing above info), a
// typical untuned one, and a broken one whose nohz_full= was silently ignored.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBootCpuList, parseBootParams, splitCmdline } from '../../src/doctor/boot.js';
import { parseCpuMask } from '../../src/doctor/masks.js';
import { wrap } from '../../src/doctor/render.js';
import {
  auditSystem,
  exitCodeFor,
  FINDING_IDS,
  parseInterrupts,
  renderJson,
  renderText,
  runDoctor,
  type DoctorReport,
  type Finding,
} from '../../src/doctor/index.js';
import { remedyById } from '../../src/remedies.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'doctor');
const fixture = (name: string): string => join(FIXTURES, name);

function byId(report: DoctorReport, id: string): Finding {
  const f = report.findings.find((x) => x.id === id);
  if (!f) throw new Error(`no finding '${id}' in [${report.findings.map((x) => x.id).join(', ')}]`);
  return f;
}
const ids = (report: DoctorReport): string[] => report.findings.map((f) => f.id).sort();
const paths = (f: Finding): string[] => f.evidence.map((e) => e.path);
const evidenceAt = (f: Finding, path: string): string | undefined => f.evidence.find((e) => e.path === path)?.value;

describe('doctor: well-tuned fixture', () => {
  const report = auditSystem({ root: fixture('well-tuned') });

  it('watches the isolated+nohz_full CPUs by default', () => {
    expect(report.cpus).toEqual([2, 3]);
    expect(report.watchedReason).toBe('isolated+nohz_full');
  });

  it('has nothing above info, and exits 0', () => {
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(exitCodeFor(report)).toBe(0);
    let out = '';
    expect(runDoctor({ root: fixture('well-tuned'), json: false, out: (s) => (out += s) })).toBe(0);
    expect(out).toContain('Nothing above info');
  });

  it('detects the PR_ISOL ABI from kallsyms and says so', () => {
    expect(report.facts.prIsol).toBe('kernel');
    const f = byId(report, 'pr-isol-present');
    expect(f.severity).toBe('info');
    expect(evidenceAt(f, '/proc/kallsyms')).toBe('prctl_task_isol_feat_get, prctl_task_isol_cfg_get');
    expect(report.facts.prIsolEvidence).toContain('/proc/kallsyms: prctl_task_isol_feat_get, prctl_task_isol_cfg_get');
    expect(ids(report)).toEqual(['pr-isol-present']);
  });

  it('reads the config from /boot/config-<release> when /proc/config.gz is missing', () => {
    expect(report.facts.config.source).toBe('/boot/config-6.8.0-tuned');
    expect(report.facts.config.NO_HZ_FULL).toBe('y');
    expect(report.facts.cmdline?.isolcpus).toMatchObject({ cpus: [2, 3], flags: ['domain', 'managed_irq'] });
  });

  it('ignores an allocated IRQ with no handler (absent from /proc/interrupts)', () => {
    expect(report.facts.irqsOnWatched).toBe(0);
  });

  it('accepts the workload pinned to the isolated CPUs and per-CPU kthreads', () => {
    expect(report.facts.tasksOnWatched).toBe(0);
  });
});

describe('doctor: untuned fixture', () => {
  const report = auditSystem({ root: fixture('untuned') });

  it('falls back to the highest-numbered CPU and says why', () => {
    expect(report.cpus).toEqual([3]);
    expect(report.watchedReason).toBe('fallback-highest');
    expect(renderText(report)).toContain('watching CPU 3: no isolated or nohz_full CPUs here: the highest-numbered CPU');
  });

  it('finds the usual suspects with the expected severities', () => {
    const sev = Object.fromEntries(report.findings.map((f) => [f.id, f.severity]));
    expect(sev).toEqual({
      'pr-isol-absent': 'info',
      'cpus-not-nohz-full': 'warning',
      'cpus-not-isolated': 'warning',
      'rcu-nocbs-missing': 'warning',
      'irq-default-affinity': 'warning',
      'irq-on-isolated-cpu': 'warning',
      'irqbalance-moves-irqs': 'warning',
      'workqueue-unbound-on-isolated': 'warning',
      'watchdog-on-isolated': 'warning',
      'vmstat-interval-low': 'warning',
      'numa-balancing-on': 'warning',
      'thp-enabled': 'warning',
      'timer-migration-on': 'info',
      'rt-throttling-on': 'info',
      'tasks-on-isolated': 'warning',
      'kthreads-on-isolated': 'info',
    });
    expect(exitCodeFor(report)).toBe(1);
  });

  it('reads the kernel config from /proc/config.gz', () => {
    expect(report.facts.config.source).toBe('/proc/config.gz');
    expect(report.facts.config.NO_HZ_FULL).toBe('y');
  });

  it('a kernel that can do nohz_full but was not asked to: the CPUs are not nohz_full', () => {
    const f = byId(report, 'cpus-not-nohz-full');
    expect(evidenceAt(f, '/sys/devices/system/cpu/nohz_full')).toBe('(null)');
    expect(evidenceAt(f, '/proc/cmdline')).toBe('no nohz_full=');
    expect(f.remedy).toContain('boot with nohz_full=3');
    expect(f.why.remedies).toContain('tick');
  });

  it('names the IRQ that fires on the watched CPU by name, with its count and path', () => {
    const f = byId(report, 'irq-on-isolated-cpu');
    expect(paths(f)).toEqual(['/proc/irq/30/effective_affinity_list']);
    expect(f.evidence[0].value).toBe('3 (IRQ 30 eth0-TxRx-0; 4000 on CPU 3 since boot)');
    expect(f.remedy[0]).toBe('for irq in 30; do echo 0-2 > /proc/irq/$irq/smp_affinity_list; done');
  });

  it('gives hex masks where the kernel wants masks', () => {
    expect(byId(report, 'workqueue-unbound-on-isolated').remedy[0]).toBe('echo 7 > /sys/devices/virtual/workqueue/cpumask');
    expect(byId(report, 'irq-default-affinity').remedy).toContain('echo 7 > /proc/irq/default_smp_affinity');
    expect(paths(byId(report, 'workqueue-unbound-on-isolated'))).toEqual([
      '/sys/devices/virtual/workqueue/cpumask',
      '/sys/devices/virtual/workqueue/writeback/cpumask',
    ]);
  });

  it('lockup detectors: watchdog_cpumask and the NMI watchdog', () => {
    const f = byId(report, 'watchdog-on-isolated');
    expect(evidenceAt(f, '/proc/sys/kernel/watchdog_cpumask')).toBe('0-3');
    expect(evidenceAt(f, '/proc/sys/kernel/nmi_watchdog')).toBe('1');
    expect(f.remedy).toEqual(expect.arrayContaining(['sysctl -w kernel.watchdog_cpumask=0-2', 'sysctl -w kernel.nmi_watchdog=0']));
  });

  it('irqbalance running without a banned list', () => {
    const f = byId(report, 'irqbalance-moves-irqs');
    expect(evidenceAt(f, '/proc/640/comm')).toBe('irqbalance');
    expect(evidenceAt(f, '/etc/default/irqbalance')).toBe('missing');
    expect(report.facts.irqbalance).toMatchObject({ running: true, pids: [640], bannedCpus: null });
  });

  it('sysctls and mm knobs with their paths', () => {
    expect(paths(byId(report, 'vmstat-interval-low'))).toEqual(['/proc/sys/vm/stat_interval']);
    expect(paths(byId(report, 'numa-balancing-on'))).toEqual(['/proc/sys/kernel/numa_balancing']);
    expect(byId(report, 'thp-enabled').evidence).toEqual([{ path: '/sys/kernel/mm/transparent_hugepage/enabled', value: '[always] madvise never' }]);
    expect(byId(report, 'rt-throttling-on').remedy[0]).toContain('kernel.sched_rt_runtime_us=-1');
  });

  it('user tasks and unbound kthreads allowed on the watched CPU; per-CPU kthreads are not listed', () => {
    expect(byId(report, 'tasks-on-isolated').evidence.map((e) => e.value)).toEqual([
      'Cpus_allowed_list: 0-3 (systemd)',
      'Cpus_allowed_list: 0-3 (irqbalance)',
      'Cpus_allowed_list: 0-3 (sshd)',
    ]);
    expect(paths(byId(report, 'kthreads-on-isolated'))).toEqual(['/proc/2/status']);
  });

  it('with --cpus, audits exactly those CPUs', () => {
    const r = auditSystem({ root: fixture('untuned'), cpus: [1, 2] });
    expect(r.cpus).toEqual([1, 2]);
    expect(r.watchedReason).toBe('user');
    // IRQ 30 is effective on CPU 3 only, but its affinity allows CPUs 1-2.
    expect(paths(byId(r, 'irq-on-isolated-cpu'))).toEqual(['/proc/irq/30/smp_affinity_list']);
  });

  it('leaves out excluded pids (isolwatch itself on the live system)', () => {
    const r = auditSystem({ root: fixture('untuned'), excludePids: [812] });
    expect(byId(r, 'tasks-on-isolated').evidence.map((e) => e.path)).not.toContain('/proc/812/status');
  });

  it('a BTF query passed in decides PR_ISOL before kallsyms', () => {
    const r = auditSystem({ root: fixture('untuned'), hasStructField: (st, field) => st === 'task_struct' && field === 'isol_info' });
    expect(r.facts.prIsol).toBe('kernel');
    expect(byId(r, 'pr-isol-present').evidence).toEqual([{ path: '/sys/kernel/btf/vmlinux', value: 'task_struct.isol_info present' }]);
    const absent = auditSystem({ root: fixture('untuned'), hasStructField: () => false });
    expect(absent.facts.prIsol).toBe('absent');
    expect(byId(absent, 'pr-isol-absent').evidence[0].value).toContain('BTF: task_struct has no task_isol_info/isol_info');
  });
});

describe('doctor: broken fixture', () => {
  const report = auditSystem({ root: fixture('broken') });

  it('nohz_full= on a kernel without CONFIG_NO_HZ_FULL is an error saying it was silently ignored', () => {
    const f = byId(report, 'nohz-full-ignored');
    expect(f.severity).toBe('error');
    expect(f.title).toMatch(/silently ignored/);
    expect(f.title).toContain('CONFIG_NO_HZ_FULL');
    expect(f.evidence).toEqual([
      { path: '/proc/cmdline', value: 'nohz_full=2-3' },
      { path: '/sys/devices/system/cpu/nohz_full', value: 'missing' },
      { path: '/proc/config.gz', value: '# CONFIG_NO_HZ_FULL is not set' },
    ]);
    expect(f.remedy[0]).toContain('CONFIG_NO_HZ_FULL=y');
    expect(f.why.remedies).toEqual(['tick', 'rcu']);
    expect(f.why.interruptions).toContainEqual({ class: 'timer', kind: 'local_timer' });
  });

  it('does not repeat the same problem as other nohz findings', () => {
    expect(ids(report)).not.toContain('kernel-no-nohz-full');
    expect(ids(report)).not.toContain('cpus-not-nohz-full');
  });

  it('isolcpus= took effect (legacy form means domain), but without managed_irq', () => {
    expect(ids(report)).not.toContain('isolcpus-ignored');
    expect(ids(report)).not.toContain('cpus-not-isolated');
    const f = byId(report, 'isolcpus-no-managed-irq');
    expect(f.severity).toBe('warning');
    expect(f.remedy).toEqual(['boot with isolcpus=domain,managed_irq,2-3']);
  });

  it('kernel without BTF cannot run isolwatch: error', () => {
    const f = byId(report, 'kernel-no-btf');
    expect(f.severity).toBe('error');
    expect(f.evidence).toEqual([
      { path: '/sys/kernel/btf/vmlinux', value: 'missing' },
      { path: '/proc/config.gz', value: '# CONFIG_DEBUG_INFO_BTF is not set' },
    ]);
  });

  it('reads the kernel group syntax in rcu_nocbs= (2-3:1/2 is CPU 2 only)', () => {
    expect(report.facts.cmdline?.rcu_nocbs?.cpus).toEqual([2]);
    const f = byId(report, 'rcu-nocbs-missing');
    expect(f.title).toBe('RCU callbacks not offloaded from CPU 3');
    expect(evidenceAt(f, '/proc/cmdline')).toBe('rcu_nocbs=2-3:1/2');
  });

  it('reports command line lists it cannot read instead of guessing', () => {
    const f = byId(report, 'cmdline-unparsed');
    expect(f.evidence).toEqual([{ path: '/proc/cmdline', value: 'irqaffinity=0-1x' }]);
  });

  it('a clocksource without vDSO, KSM merging, missing kallsyms', () => {
    const cs = byId(report, 'clocksource-no-vdso');
    expect(cs.severity).toBe('warning');
    expect(evidenceAt(cs, '/sys/devices/system/clocksource/clocksource0/current_clocksource')).toBe('hpet');
    expect(cs.why.remedies[0]).toBe('syscall-clock');
    expect(byId(report, 'ksm-running').evidence).toEqual([{ path: '/sys/kernel/mm/ksm/run', value: '1' }]);
    expect(byId(report, 'pr-isol-absent').evidence).toEqual([{ path: '/proc/kallsyms', value: 'unreadable' }]);
  });

  it('vmstat on isolated CPUs is advice, not a warning', () => {
    expect(byId(report, 'vmstat-interval-low').severity).toBe('info');
  });

  it('a banned CPU mask in the irqbalance config is read even when irqbalance is not running', () => {
    expect(report.facts.irqbalance).toEqual({ running: false, pids: [], bannedCpus: [2, 3], configPath: '/etc/default/irqbalance' });
    expect(ids(report)).not.toContain('irqbalance-moves-irqs');
  });

  it('parses /proc/PID/stat with parentheses in comm; a task pinned inside the watched CPUs is not a stray', () => {
    const f = byId(report, 'tasks-on-isolated');
    expect(f.evidence).toEqual([{ path: '/proc/300/status', value: 'Cpus_allowed_list: 0-3 (bad (name) x)' }]);
  });

  it('errors sort first in text and JSON; exit 1', () => {
    const text = renderText(report);
    const order = ['ERROR', 'WARNING', 'INFO'].map((l) => text.indexOf(`\n${l} `));
    expect(order[0]).toBeGreaterThan(0);
    expect(order[0]).toBeLessThan(order[1]);
    expect(order[1]).toBeLessThan(order[2]);
    expect(text.lastIndexOf('\nERROR ')).toBeLessThan(order[1]);
    const json = JSON.parse(renderJson(report)) as DoctorReport;
    expect(json.findings.slice(0, 2).map((f) => f.severity)).toEqual(['error', 'error']);
    expect(exitCodeFor(report)).toBe(1);
  });

  it('an offline CPU given with --cpus is an error', () => {
    const r = auditSystem({ root: fixture('broken'), cpus: [5] });
    const f = byId(r, 'cpus-not-online');
    expect(f.severity).toBe('error');
    expect(f.evidence).toEqual([{ path: '/sys/devices/system/cpu/online', value: '0-3' }]);
  });
});

describe('doctor: an empty tree (nothing readable)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isolwatch-doctor-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does not throw, and says the kernel config was not found at either place', () => {
    const report = auditSystem({ root: dir });
    const f = byId(report, 'kernel-config-unreadable');
    expect(f.severity).toBe('info');
    expect(paths(f)).toEqual(['/proc/config.gz', '/boot/config-<release>']);
    expect(report.facts.config.source).toBeNull();
    expect(ids(report)).toContain('kernel-no-btf');
    expect(ids(report)).toContain('kernel-no-nohz-full');
  });
});

describe('doctor: every finding', () => {
  const reports = ['well-tuned', 'untuned', 'broken'].map((n) => auditSystem({ root: fixture(n) }));
  const all = reports.flatMap((r) => r.findings);

  it('has a registered kebab-case id, a title, evidence with absolute paths, and a why that links the catalogue', () => {
    for (const f of all) {
      expect(FINDING_IDS).toContain(f.id);
      expect(f.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(f.title.length).toBeGreaterThan(5);
      expect(f.evidence.length, f.id).toBeGreaterThan(0);
      for (const e of f.evidence) expect(e.path, f.id).toMatch(/^\//);
      for (const r of f.why.remedies) expect(remedyById(r), `${f.id} -> ${r}`).toBeDefined();
      expect(f.why.doc).toBe('docs/remedies.md');
    }
  });

  it('warnings and errors always say what to do', () => {
    for (const f of all.filter((x) => x.severity !== 'info')) expect(f.remedy.length, f.id).toBeGreaterThan(0);
  });

  it('text output fits 80 columns and shows title, evidence, remedy and why for each finding', () => {
    for (const r of reports) {
      const text = renderText(r);
      for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
      for (const f of r.findings) expect(text).toContain(f.id);
      const blocks = text.split('\n\n').filter((b) => /^(ERROR|WARNING|INFO) /.test(b));
      expect(blocks.length).toBe(r.findings.length);
      for (const b of blocks) {
        expect(b).toMatch(/\n  evidence  /);
        expect(b).toMatch(/\n  why       /);
      }
    }
  });

  it('runDoctor --json writes one well-formed JSON document and returns the exit code', () => {
    const chunks: string[] = [];
    const code = runDoctor({ root: fixture('untuned'), json: true, out: (s) => chunks.push(s) });
    expect(code).toBe(1);
    expect(chunks).toHaveLength(1);
    const doc = JSON.parse(chunks[0]);
    expect(doc).toMatchObject({ type: 'doctor', cpus: [3], watchedReason: 'fallback-highest' });
    expect(doc.findings.length).toBeGreaterThan(5);
    expect(doc.facts.kernel).toBe('6.5.0-generic');
  });
});

describe('doctor parsers', () => {
  it('splits the command line, honouring quotes and stopping at init arguments', () => {
    expect(splitCmdline('root=/dev/sda1 dyndbg="file x.c +p" nohz_full=2 -- --init-arg nohz_full=5')).toEqual(['root=/dev/sda1', 'dyndbg=file x.c +p', 'nohz_full=2']);
  });

  it('isolcpus flags, bare rcu_nocbs, the last occurrence wins', () => {
    const p = parseBootParams('isolcpus=nohz,managed_irq,1-3 rcu_nocbs nohz_full=1 nohz_full=2-3');
    expect(p.isolcpus).toEqual({ cpus: [1, 2, 3], flags: ['nohz', 'managed_irq'], text: 'isolcpus=nohz,managed_irq,1-3' });
    expect(p.rcu_nocbs?.cpus).toBe('all');
    expect(p.nohz_full?.cpus).toEqual([2, 3]);
  });

  it('kernel CPU list groups and N', () => {
    expect(parseBootCpuList('0-15:2/4')).toEqual([0, 1, 4, 5, 8, 9, 12, 13]);
    expect(parseBootCpuList('2-N', 5)).toEqual([2, 3, 4, 5]);
    expect(() => parseBootCpuList('2-N')).toThrow(/bad CPU list element/);
  });

  it('hex CPU masks in 32-bit groups', () => {
    expect(parseCpuMask('f')).toEqual([0, 1, 2, 3]);
    expect(parseCpuMask('00000001,80000000\n')).toEqual([31, 32]);
    expect(() => parseCpuMask('xyz')).toThrow(/bad CPU mask group 'xyz'/);
  });

  it('/proc/interrupts names on x86 and arm64 layouts', () => {
    const x86 = parseInterrupts('           CPU0       CPU1\n 26:          0         15  IO-APIC   4-edge      ttyS0\nLOC: 1 2 Local timer interrupts\n');
    expect(x86.get(26)).toEqual({ name: 'ttyS0', counts: [0, 15] });
    const arm = parseInterrupts('           CPU0       CPU1\n 11:       9000       8000     GICv3  27 Level     arch_timer\n');
    expect(arm.get(11)?.name).toBe('arch_timer');
  });

  it('wraps without losing words and cuts words longer than a line', () => {
    expect(wrap('a bb ccc', 4)).toEqual(['a bb', 'ccc']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('doctor: boot parameters against what took effect (small trees)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  // A minimal system: 4 CPUs, a release, and whatever the case adds.
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'isolwatch-doctor-'));
    dirs.push(dir);
    const all: Record<string, string> = { 'sys/devices/system/cpu/online': '0-3\n', 'proc/sys/kernel/osrelease': '6.1.0-t\n', ...files };
    for (const [rel, text] of Object.entries(all)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    return dir;
  }

  it('isolcpus= on a kernel without CONFIG_CPU_ISOLATION: error, silently ignored', () => {
    const r = auditSystem({
      root: tree({ 'proc/cmdline': 'isolcpus=domain,2-3\n', 'sys/devices/system/cpu/isolated': '\n', 'boot/config-6.1.0-t': '# CONFIG_CPU_ISOLATION is not set\nCONFIG_NO_HZ_FULL=y\n' }),
      cpus: [2, 3],
    });
    const f = byId(r, 'isolcpus-ignored');
    expect(f.severity).toBe('error');
    expect(f.title).toMatch(/silently ignored.*CONFIG_CPU_ISOLATION/);
    expect(f.evidence).toContainEqual({ path: '/boot/config-6.1.0-t', value: '# CONFIG_CPU_ISOLATION is not set' });
    expect(ids(r)).not.toContain('cpus-not-isolated');
    expect(ids(r)).not.toContain('kernel-no-cpu-isolation');
  });

  it('nohz_full= that took effect for part of the list: warning naming both halves', () => {
    const r = auditSystem({
      root: tree({ 'proc/cmdline': 'nohz_full=0-3\n', 'sys/devices/system/cpu/nohz_full': '1-3\n', 'boot/config-6.1.0-t': 'CONFIG_NO_HZ_FULL=y\nCONFIG_CPU_ISOLATION=y\n' }),
      cpus: [1, 2, 3],
    });
    const f = byId(r, 'nohz-full-ignored');
    expect(f.severity).toBe('warning');
    expect(f.title).toBe('nohz_full= took effect for CPU 1-3 only, not 0');
  });

  it('the machine-check poll and a timer device that cannot reach the next timer (the 6.12 qemu guest)', () => {
    const timerList = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'timer_list', 'qemu-tcg-6.12.txt'), 'utf8');
    const files = {
      'sys/devices/system/machinecheck/machinecheck2/check_interval': '300\n',
      'sys/devices/system/machinecheck/machinecheck3/check_interval': '300\n',
      'proc/timer_list': timerList,
    };
    const r = auditSystem({ root: tree(files), cpus: [2, 3] });
    const mce = byId(r, 'mce-poll');
    expect(mce.title).toBe('Machine-check poll every 300 s on CPU 2-3');
    expect(mce.evidence).toContainEqual({ path: '/sys/devices/system/machinecheck/machinecheck3/check_interval', value: '300' });
    const range = byId(r, 'timer-device-range');
    // the fixture: now at 50.2 s, CPU 2 and 3 set for 316.624 s, the lapic reaching 34.36 s
    expect(range.title).toBe('CPU 2-3: next timer 266s away, the lapic timer device reaches 34.4s: an empty local timer interrupt every 34.4s until then');
    expect(range.evidence[1].value).toMatch(/^CPU 3: lapic max_delta_ns 34359738352, next_event 316624000000 nsecs/);
    // housekeeping CPUs 0-1 (their tick is 4 ms away) and a poll turned off: nothing
    const quiet = auditSystem({
      root: tree({ ...files, 'sys/devices/system/machinecheck/machinecheck3/check_interval': '0\n' }),
      cpus: [0, 1, 3],
    });
    expect(byId(quiet, 'timer-device-range').title).toMatch(/^CPU 3: /);
    expect(ids(quiet)).not.toContain('mce-poll');
    expect(ids(auditSystem({ root: tree(files), cpus: [0, 1] }))).not.toContain('timer-device-range');
  });

  it('irqaffinity= on the command line that did not take effect', () => {
    const r = auditSystem({ root: tree({ 'proc/cmdline': 'irqaffinity=0-1\n', 'proc/irq/default_smp_affinity': 'f\n' }), cpus: [3] });
    const f = byId(r, 'irq-default-affinity');
    expect(f.title).toBe('irqaffinity=0-1 on the command line, yet new IRQs default to CPUs including 3');
    expect(f.evidence).toEqual([
      { path: '/proc/irq/default_smp_affinity', value: 'f' },
      { path: '/proc/cmdline', value: 'irqaffinity=0-1' },
    ]);
  });

  it('a cgroup v2 isolated partition counts as isolated', () => {
    const r = auditSystem({ root: tree({ 'sys/fs/cgroup/cpuset.cpus.isolated': '3\n', 'sys/devices/system/cpu/isolated': '\n' }), cpus: [3] });
    expect(ids(r)).not.toContain('cpus-not-isolated');
  });

  it('remote TLB flushes through the hypervisor: a warning with what a guest cannot see', () => {
    const kallsyms = 'ffffffff8134b6d0 T native_flush_tlb_multi\nffffffff8133c3e0 t pvm_flush_tlb_multi\nffffffff8133a8f0 t kvm_flush_tlb_multi\n';
    const r = auditSystem({ root: tree({ 'proc/kallsyms': kallsyms, 'dev/kmsg': '6,1,1,-;pvm-pv: detected, 52/52 sites patched\n' }), cpus: [3] });
    const f = byId(r, 'tlb-flush-hypervisor');
    expect(f.severity).toBe('warning');
    expect(f.title).toMatch(/pvm_flush_tlb_multi/);
    expect(f.why.text).toMatch(/VM exits that no guest tracer sees.*stolen time/);
    expect(r.facts.tlbFlush.label).toBe('hypervisor:pvm_flush_tlb_multi');
    // KVM's paravirt flush: IPIs to running vCPUs, said as info
    const kvm = auditSystem({ root: tree({ 'proc/kallsyms': kallsyms, 'dev/kmsg': '6,1,1,-;kvm-guest: KVM setup pv remote TLB flush\n' }), cpus: [3] });
    expect(byId(kvm, 'tlb-flush-paravirt').severity).toBe('info');
    expect(ids(kvm)).not.toContain('tlb-flush-hypervisor');
    // bare metal: nothing to say
    const bare = auditSystem({ root: tree({ 'proc/kallsyms': 'ffffffff8134b6d0 T native_flush_tlb_multi\n' }), cpus: [3] });
    expect(ids(bare).filter((i) => i.startsWith('tlb-flush'))).toEqual([]);
    expect(bare.facts.tlbFlush.label).toBe('ipi');
  });
});
