// What the hypervisor takes: which steal clock the kernel reads (from its
// code, or from what the system shows), where KVM's per-CPU clock lives, the
// fallback to /proc/stat, the "no steal clock" path, and the growth a session
// reports per interval, phase and in total. Fake kernels and fake /proc trees
// (under a mkdtemp root) stand in for the machine; the real one is checked in
// test/integration/steal.test.ts against the kernel's own accounting.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { implausible, kvmClockReader, openStealSource, procStatReader, rootFiles, StealMeter, type StealRead } from '../../src/live/steal.js';
import {
  cpuinfoSaysVm,
  kvmStealLayout,
  NS_PER_USER_HZ_TICK,
  parseProcStatSteal,
  stealClockFromSystem,
  stealClockFromText,
  type StealKernel,
} from '../../src/system/steal.js';

// Addresses and bytes as on the dev VM (kernel 6.18, KVM guest, per-CPU symbols not zero-based).
const TRAMPOLINE = 0xffffffff82255060n;
const KVM_CLOCK = 0xffffffff8133a6a0n;
const NATIVE_CLOCK = 0xffffffff8133cc10n;
const THUNK = 0xffffffff8133a650n;
const PER_CPU_OFFSET = 0xffffffff82866080n;
const STEAL_TIME = 0xffffffff83900c00n;
/** `movq __per_cpu_offset(,%rdi,8),%rax; cmpb $0, steal_time+16(%rax); setne %al; ret` as read from that kernel */
const THUNK_CODE = Buffer.from('488b04fd8060868280b8100c9083000f95c0c3cccccccc66', 'hex');

const jmp = (from: bigint, to: bigint): Uint8Array => {
  const b = new Uint8Array(8).fill(0xcc);
  b[0] = 0xe9;
  new DataView(b.buffer).setInt32(1, Number(to - (from + 5n)), true);
  return b;
};
const u64le = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};

/** A kernel of named text symbols and memory blocks; reads anywhere inside a block. */
function fakeKernel(syms: Record<string, bigint>, mem: Map<bigint, Uint8Array>): StealKernel & { reads: number } {
  const k = {
    reads: 0,
    symbol: (n: string) => (syms[n] === undefined ? undefined : { addr: syms[n], size: 64 }),
    name: (a: bigint) => Object.entries(syms).find(([, v]) => v === a)?.[0] ?? `0x${a.toString(16)}`,
    read(a: bigint, l: number): Uint8Array | undefined {
      k.reads++;
      for (const [base, bytes] of mem) {
        if (a >= base && a + BigInt(l) <= base + BigInt(bytes.length)) return bytes.slice(Number(a - base), Number(a - base) + l);
      }
      return undefined;
    },
  };
  return k;
}

/** A KVM guest kernel with two CPUs whose per-CPU areas sit at `areas`, steal clocks at `steal` ns. */
function kvmGuest(steal: bigint[], opts: { trampolineTo?: bigint; thunk?: Uint8Array } = {}) {
  const areas = [0xffff8886a4317000n, 0xffff8886a4417000n];
  const mem = new Map<bigint, Uint8Array>([
    [TRAMPOLINE, jmp(TRAMPOLINE, opts.trampolineTo ?? KVM_CLOCK)],
    [THUNK, opts.thunk ?? THUNK_CODE],
    [PER_CPU_OFFSET, new Uint8Array([...u64le(areas[0]), ...u64le(areas[1])])],
  ]);
  const clocks = areas.map((a, i) => {
    const b = new Uint8Array(64);
    b.set(u64le(steal[i]), 0);
    mem.set((a + STEAL_TIME) & ((1n << 64n) - 1n), b); // the per-CPU address wraps around 2^64
    return b;
  });
  const k = fakeKernel(
    { __SCT__pv_steal_clock: TRAMPOLINE, kvm_steal_clock: KVM_CLOCK, native_steal_clock: NATIVE_CLOCK, __raw_callee_save___kvm_vcpu_is_preempted: THUNK },
    mem,
  );
  // what the host writes at a VM entry
  const setSteal = (cpu: number, ns: bigint) => clocks[cpu].set(u64le(ns), 0);
  return { k, setSteal };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A system tree under a fresh root: only the files given. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'isolwatch-steal-'));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const stat = (steal: number[]): string =>
  ['cpu  100 0 50 1000 0 0 0 ' + steal.reduce((a, b) => a + b, 0) + ' 0 0', ...steal.map((s, i) => `cpu${i} 50 0 25 500 3 0 1 ${s} 0 0`), 'intr 1 2', 'ctxt 99', ''].join('\n');
const CPUINFO_VM = 'processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor lahf_lm\n\nprocessor\t: 1\nflags\t\t: fpu vme sse2 hypervisor lahf_lm\n';
const CPUINFO_BARE = 'processor\t: 0\nflags\t\t: fpu vme sse2 lahf_lm\n';

describe('which steal clock the kernel reads, from its code', () => {
  it("the static call's trampoline jumps to kvm_steal_clock", () => {
    const { k } = kvmGuest([0n, 0n]);
    expect(stealClockFromText(k)).toEqual({ clock: 'kvm_steal_clock', evidence: '__SCT__pv_steal_clock jumps to kvm_steal_clock' });
  });

  it('native_steal_clock (returns 0) and a bare return mean no steal clock', () => {
    expect(stealClockFromText(kvmGuest([0n, 0n], { trampolineTo: NATIVE_CLOCK }).k)?.clock).toBe('none');
    const ret = fakeKernel({ __SCT__pv_steal_clock: TRAMPOLINE }, new Map([[TRAMPOLINE, new Uint8Array([0xc3, 0xcc, 0xcc, 0xcc, 0xcc])]]));
    expect(stealClockFromText(ret)?.clock).toBe('none');
  });

  it('a target without a symbol is unknown; no trampoline or unreadable code says nothing', () => {
    expect(stealClockFromText(kvmGuest([0n, 0n], { trampolineTo: 0xffffffff81000123n }).k)?.clock).toBe('unknown');
    expect(stealClockFromText(fakeKernel({}, new Map()))).toBeUndefined();
    expect(stealClockFromText(fakeKernel({ __SCT__pv_steal_clock: TRAMPOLINE }, new Map()))).toBeUndefined();
  });
});

describe("KVM's per-CPU steal clock, located from the vcpu_is_preempted thunk", () => {
  it('decodes the per-CPU offset array and steal_time from the two instructions', () => {
    expect(kvmStealLayout(THUNK_CODE)).toEqual({ perCpuOffsets: PER_CPU_OFFSET, stealTime: STEAL_TIME });
  });

  it('after an endbr64, and with a zero-based per-CPU area (small positive offsets, kernels before 6.15)', () => {
    const code = Buffer.from('f30f1efa' + '488b04fd00a04082' + '80b8101e020000' + '0f95c0c3', 'hex');
    expect(kvmStealLayout(code)).toEqual({ perCpuOffsets: 0xffffffff8240a000n, stealTime: 0x21e00n });
  });

  it('other code is not guessed at', () => {
    expect(kvmStealLayout(Buffer.from('4889f84883c0100fb600c3cccccccccccccccc', 'hex'))).toBeUndefined();
    expect(kvmStealLayout(THUNK_CODE.subarray(0, 10))).toBeUndefined();
  });

  it('reads each CPU clock in ns at its per-CPU address, one 8-byte read per CPU', () => {
    const { k, setSteal } = kvmGuest([10_375_997_648n, 9_558_704_099n]);
    const r = kvmClockReader(k, [0, 1]);
    if (typeof r === 'string') throw new Error(r);
    expect(r.read()).toEqual(new Map([[0, 10_375_997_648], [1, 9_558_704_099]]));
    setSteal(1, 9_559_710_381n);
    const before = k.reads;
    expect(r.read()?.get(1)).toBe(9_559_710_381);
    expect(k.reads - before).toBe(2);
  });
});

describe('/proc/stat and the system facts (no BPF: doctor)', () => {
  it("parses the steal column (8th value) of each cpuN line, not the total's", () => {
    expect(parseProcStatSteal(stat([1037, 955]))).toEqual(new Map([[0, 1037], [1, 955]]));
    expect(parseProcStatSteal('cpu0 1 2 3\n')).toEqual(new Map());
  });

  it('CPUID hypervisor flag', () => {
    expect(cpuinfoSaysVm(CPUINFO_VM)).toBe(true);
    expect(cpuinfoSaysVm(CPUINFO_BARE)).toBe(false);
    expect(cpuinfoSaysVm('processor : 0\n')).toBeUndefined();
    expect(cpuinfoSaysVm(undefined)).toBeUndefined();
  });

  it('steal in /proc/stat proves a clock; its hypervisor names which', () => {
    const g = stealClockFromSystem({ cpuinfo: CPUINFO_VM, procStat: stat([0, 12]), kernelLog: ['Hypervisor detected: KVM'] });
    expect(g).toMatchObject({ clock: 'kvm_steal_clock', vm: true, hypervisor: 'KVM' });
    expect(g.evidence.join('\n')).toMatch(/\/proc\/stat: steal ticks CPU 1 12/);
  });

  it("KVM's boot messages that need the steal time feature prove it with steal still 0", () => {
    for (const line of ['kvm-guest: KVM setup pv remote TLB flush', 'kvm-guest: setup PV sched yield', 'kvm-stealtime: cpu 0, msr 17fc2d040']) {
      const g = stealClockFromSystem({ cpuinfo: CPUINFO_VM, procStat: stat([0, 0]), kernelLog: [line] });
      expect(g.clock, line).toBe('kvm_steal_clock');
      expect(g.evidence.join('\n')).toContain('0 proves nothing');
    }
  });

  it('no hypervisor flag: bare metal, no steal clock', () => {
    expect(stealClockFromSystem({ cpuinfo: CPUINFO_BARE, procStat: stat([0, 0]), kernelLog: [] })).toMatchObject({ clock: 'none', vm: false });
  });

  it('a guest with steal 0 and no telling message is unknown; nopv means none', () => {
    expect(stealClockFromSystem({ cpuinfo: CPUINFO_VM, procStat: stat([0, 0]), kernelLog: [] })).toMatchObject({ clock: 'unknown', vm: true });
    expect(stealClockFromSystem({ cpuinfo: CPUINFO_VM, procStat: stat([0, 0]), kernelLog: [], cmdline: 'ro nopv quiet' })).toMatchObject({ clock: 'none', vm: true });
    expect(stealClockFromSystem({ kernelLog: [] })).toMatchObject({ clock: 'unknown' });
  });
});

describe('the source a session reads', () => {
  it('KVM clock in ns when it reads plausibly', () => {
    const root = tree({ 'proc/stat': stat([1037, 955]), 'proc/cpuinfo': CPUINFO_VM, 'proc/uptime': '11000.5 20000.1\n' });
    const { k } = kvmGuest([10_375_997_648n, 9_558_704_099n]);
    const s = openStealSource(k, [1], rootFiles(root));
    expect(s.info).toMatchObject({ clock: 'kvm_steal_clock', vm: true, source: 'pv-clock', resolution_ns: 1 });
    expect(s.read!()).toEqual(new Map([[1, 9_558_704_099]]));
  });

  it('falls back to /proc/stat (10 ms ticks) when the memory read is implausible, saying why', () => {
    const root = tree({ 'proc/stat': stat([1037, 955]), 'proc/cpuinfo': CPUINFO_VM, 'proc/uptime': '11000.5 20000.1\n' });
    // garbage where the clock should be: more than the time since boot
    const { k } = kvmGuest([0n, 0xdeadbeefdeadbeefn]);
    const s = openStealSource(k, [1], rootFiles(root));
    expect(s.info.source).toBe('proc-stat');
    expect(s.info.resolution_ns).toBe(NS_PER_USER_HZ_TICK);
    expect(s.info.evidence).toMatch(/implausible.*since boot/);
    expect(s.read!()).toEqual(new Map([[1, 955 * NS_PER_USER_HZ_TICK]]));
    // a thunk that is not what we expect: /proc/stat too
    const odd = openStealSource(kvmGuest([0n, 5n], { thunk: new Uint8Array(24).fill(0x90) }).k, [1], rootFiles(root));
    expect(odd.info.source).toBe('proc-stat');
    expect(odd.info.evidence).toMatch(/not the expected two instructions/);
  });

  it('plausibility: never more than the time since boot, never less than what the kernel already accounted', () => {
    expect(implausible(new Map([[1, 5e9]]), new Map([[1, 500]]), 10e9)).toBeUndefined();
    expect(implausible(new Map([[1, 5e9]]), new Map([[1, 503]]), 10e9)).toMatch(/less than the 503 ticks/);
    expect(implausible(new Map([[1, 12e9]]), undefined, 10e9)).toMatch(/more than the 10 s since boot/);
  });

  it('another hypervisor\'s clock (no BPF reader for it): /proc/stat', () => {
    const root = tree({ 'proc/stat': stat([0, 3]), 'proc/cpuinfo': CPUINFO_VM });
    const xen = fakeKernel({ __SCT__pv_steal_clock: TRAMPOLINE, xen_steal_clock: KVM_CLOCK }, new Map([[TRAMPOLINE, jmp(TRAMPOLINE, KVM_CLOCK)]]));
    expect(openStealSource(xen, [1], rootFiles(root)).info).toMatchObject({ clock: 'xen_steal_clock', source: 'proc-stat' });
  });

  it('no steal clock on a bare-metal fixture: nothing is read, and it says so', () => {
    const root = tree({ 'proc/stat': stat([0, 0]), 'proc/cpuinfo': CPUINFO_BARE });
    const s = openStealSource(undefined, [1], rootFiles(root));
    expect(s.info).toMatchObject({ clock: 'none', vm: false, source: 'none', resolution_ns: 0 });
    expect(s.info.evidence).toMatch(/no hypervisor flag \(bare metal\)/);
    expect(s.read).toBeUndefined();
    const m = new StealMeter(s.info, [1], s.read, () => 0);
    expect(m.readable).toBe(false);
    expect(m.interval()).toBeUndefined();
    expect(m.total()).toBeUndefined();
    expect(m.summary()).toEqual({ clock: 'none', vm: false, source: 'none', resolution_ns: 0 });
  });

  it("the kernel's code wins over the facts: native_steal_clock in a VM is a guest without a steal clock", () => {
    const root = tree({ 'proc/stat': stat([0, 0]), 'proc/cpuinfo': CPUINFO_VM });
    const s = openStealSource(kvmGuest([0n, 0n], { trampolineTo: NATIVE_CLOCK }).k, [1], rootFiles(root));
    expect(s.info).toMatchObject({ clock: 'none', vm: true, source: 'none' });
  });

  it('/proc/stat reader: only the watched CPUs, in ns', () => {
    const root = tree({ 'proc/stat': stat([7, 8, 9]) });
    expect(procStatReader(rootFiles(root), [0, 2])()).toEqual(new Map([[0, 7e7], [2, 9e7]]));
    expect(procStatReader(rootFiles(tree({})), [0])()).toBeUndefined();
  });
});

describe('the steal a session reports', () => {
  /** A reader replaying cumulative values, and a clock advancing 1 s per reading. */
  function scripted(values: Array<Record<number, number> | undefined>): { read: StealRead; now: () => number } {
    let i = 0;
    let t = 0;
    return {
      read: () => {
        const v = values[Math.min(i++, values.length - 1)];
        return v && new Map(Object.entries(v).map(([c, n]) => [Number(c), n]));
      },
      now: () => (t += 1e9),
    };
  }
  const INFO = { clock: 'kvm_steal_clock', vm: true, source: 'pv-clock' as const, resolution_ns: 1, evidence: 'test' };

  it('intervals are the growth since the previous one; the total since the start', () => {
    const s = scripted([{ 1: 100, 2: 5 }, { 1: 150, 2: 5 }, { 1: 400, 2: 9 }, { 1: 401, 2: 9 }]);
    const m = new StealMeter(INFO, [1, 2], s.read, s.now);
    expect(m.interval()).toEqual({ 1: 50, 2: 0 });
    expect(m.interval()).toEqual({ 1: 250, 2: 4 });
    expect(m.total()).toEqual({ 1: 301, 2: 4 });
  });

  it('a clock that went back was reset (CPU offline and online): it grew by what it shows; a failed read keeps the last', () => {
    const s = scripted([{ 1: 1000 }, { 1: 1200 }, { 1: 30 }, undefined, { 1: 45 }]);
    const m = new StealMeter(INFO, [1], s.read, s.now);
    expect(m.interval()).toEqual({ 1: 200 });
    expect(m.interval()).toEqual({ 1: 30 });
    expect(m.interval()).toEqual({ 1: 0 });
    expect(m.interval()).toEqual({ 1: 15 });
  });

  it("run's judged window: from the 'judged' mark to the 'after' mark, with its length", () => {
    const s = scripted([{ 1: 0 }, { 1: 10 }, { 1: 1_000_010 }, { 1: 1_000_500 }, { 1: 9e9 }]);
    const m = new StealMeter(INFO, [1], s.read, s.now);
    m.mark('warmup'); // 10
    m.mark('judged'); // 1_000_010
    m.mark('after'); // 1_000_500
    m.freeze(); // 9e9, and nothing after it is read
    expect(m.summary()).toEqual({ clock: 'kvm_steal_clock', vm: true, source: 'pv-clock', resolution_ns: 1, judged: { window_ns: 1e9, by_cpu: { 1: 490 } } });
    expect(m.total()).toEqual({ 1: 9e9 });
    expect(m.total()).toEqual({ 1: 9e9 });
  });

  it('without a judged phase (watch, serve) the summary has no window', () => {
    const s = scripted([{ 1: 0 }, { 1: 10 }]);
    expect(new StealMeter(INFO, [1], s.read, s.now).summary()).not.toHaveProperty('judged');
  });
});

describe('steal in the records', () => {
  it("summary: per CPU beside the interruptions (not in stolen_ns), the clock's block after records", async () => {
    const { summarize } = await import('../../src/correlate/summary.js');
    const { toNdjsonLine } = await import('../../src/output/ndjson.js');
    const s = summarize({
      rows: [],
      watchedCpus: [1, 3],
      durationS: 2,
      lost: 0,
      steal: { summary: { clock: 'kvm_steal_clock', vm: true, source: 'pv-clock', resolution_ns: 1 }, byCpu: { 1: 1234 } },
    });
    expect(s.cpus['1']).toEqual({ by_class: {}, stolen_ns: 0, max_ns: 0, steal_ns: 1234 });
    expect(s.cpus['3'].steal_ns).toBe(0);
    const line = toNdjsonLine(s);
    expect(line).toContain('"cpus":{"1":{"by_class":{},"stolen_ns":0,"max_ns":0,"steal_ns":1234}');
    expect(line).toMatch(/"self_caused":0,"steal":\{"clock":"kvm_steal_clock","vm":true,"source":"pv-clock","resolution_ns":1\}\}$/);
    // no steal clock: the block says so, and no CPU claims a 0 it could not measure
    const none = summarize({ rows: [], watchedCpus: [1], durationS: 1, lost: 0, steal: { summary: { clock: 'none', vm: false, source: 'none', resolution_ns: 0 } } });
    expect(none.cpus['1']).not.toHaveProperty('steal_ns');
    expect(none.steal).toEqual({ clock: 'none', vm: false, source: 'none', resolution_ns: 0 });
  });

  it('aggregate records carry steal_ns before their rows', async () => {
    const { toNdjsonLine } = await import('../../src/output/ndjson.js');
    const line = toNdjsonLine({ type: 'aggregate', scope: 'interval', from_ns: 1, to_ns: 2, rows: [], steal_ns: { 1: 5 } });
    expect(line).toBe('{"type":"aggregate","scope":"interval","from_ns":1,"to_ns":2,"steal_ns":{"1":5},"rows":[]}');
  });
});

describe('steal in words', () => {
  const base = { type: 'summary' as const, duration_s: 10, tasks: [], violations: 0, lost_events: 0, self_caused: 0 };
  const cpus = { '1': { by_class: {}, stolen_ns: 0, max_ns: 0, steal_ns: 150e6 }, '3': { by_class: {}, stolen_ns: 0, max_ns: 0, steal_ns: 2e6 } };
  const steal = { clock: 'kvm_steal_clock', vm: true, source: 'pv-clock' as const, resolution_ns: 1, judged: { window_ns: 5e9, by_cpu: { '1': 100e6, '3': 1e6 } } };

  it('the start header names the clock, or says plainly there is none', async () => {
    const { stealStartText } = await import('../../src/output/steal.js');
    expect(stealStartText({ clock: 'kvm_steal_clock', vm: true, source: 'pv-clock', resolution_ns: 1 })?.text).toMatch(/^steal: KVM's steal clock \(kvm_steal_clock\), read per CPU in ns: time the host ran/);
    expect(stealStartText({ clock: 'xen_steal_clock', vm: true, source: 'proc-stat', resolution_ns: 1e7 })?.text).toMatch(/read from \/proc\/stat in 10ms ticks/);
    expect(stealStartText({ clock: 'none', vm: false, source: 'none', resolution_ns: 0 })).toEqual({ level: 'info', text: 'steal: no steal clock: not a virtual machine (no hypervisor takes time here)' });
    expect(stealStartText({ clock: 'none', vm: true, source: 'none', resolution_ns: 0 })).toMatchObject({ level: 'warning', text: expect.stringMatching(/no steal clock: time the host takes .* is invisible/) });
    expect(stealStartText(undefined)).toBeUndefined();
  });

  it("a run's text summary and markdown say a notable share of the judged window, and only that", async () => {
    const { formatSummary } = await import('../../src/output/text.js');
    const text = formatSummary({ ...base, cpus, steal });
    expect(text).toContain("steal (the hypervisor's; not interruptions, not judged): CPU 1 150ms (1.50%), CPU 3 2ms (0.02%); in the judged window: CPU 1 100ms (2.00%), CPU 3 1ms (0.02%) [kvm_steal_clock, read in ns]");
    expect(text).toContain('note: the hypervisor took 100ms (2.00% of the 5s judged window) from CPU 1 as steal time: not an interruption isolwatch can see, and not judged');
    expect(text).not.toMatch(/from CPU 3 as steal/);
    const { toMarkdown } = await import('../../src/output/markdown.js');
    const start = { type: 'start' as const, version: 't', kernel: 'k', arch: 'x86_64', watched_cpus: [1, 3], isolated: [1, 3], nohz_full: [1, 3], pr_isol: 'absent' as const, probes: { attached: [], missing: [] } };
    const md = toMarkdown({ start, summary: { ...base, cpus, steal }, interruptions: [] });
    expect(md).toMatch(/> \[!WARNING\]\n> the hypervisor took 100ms \(2\.00% of the 5s judged window\) from CPU 1 as steal time/);
    expect(md).toContain('- steal (the hypervisor');
    // a quiet hypervisor: a line, no warning
    const small = { ...steal, judged: { window_ns: 5e9, by_cpu: { '1': 1e6 } } };
    expect(formatSummary({ ...base, cpus, steal: small })).not.toContain('note: the hypervisor took');
    expect(toMarkdown({ start, summary: { ...base, cpus, steal: small }, interruptions: [] })).not.toContain('as steal time');
  });

  it('no steal clock: the summary says why there is nothing', async () => {
    const { formatSummary } = await import('../../src/output/text.js');
    const text = formatSummary({ ...base, cpus: { '1': { by_class: {}, stolen_ns: 0, max_ns: 0 } }, steal: { clock: 'none', vm: true, source: 'none', resolution_ns: 0 } });
    expect(text).toContain('steal: this virtual machine has no steal clock');
  });
});

describe('steal in a run\'s --metrics file', () => {
  it('comes from the summary: per CPU in seconds, and the clock', async () => {
    const { reporters } = await import('../../src/output/index.js');
    const start = { type: 'start' as const, version: 't', kernel: 'k', arch: 'x86_64', watched_cpus: [1], isolated: [1], nohz_full: [1], pr_isol: 'absent' as const, probes: { attached: [], missing: [] } };
    const summary = {
      type: 'summary' as const, duration_s: 1, tasks: [], violations: 0, lost_events: 0, self_caused: 0,
      cpus: { '1': { by_class: {}, stolen_ns: 0, max_ns: 0, steal_ns: 2_500_000 } },
      steal: { clock: 'kvm_steal_clock', vm: true, source: 'pv-clock' as const, resolution_ns: 1 },
    };
    const text = reporters.metrics({ start, summary, interruptions: [] });
    expect(text).toContain('isolwatch_steal_seconds_total{cpu="1"} 0.0025\n');
    expect(text).toContain('isolwatch_steal_clock_info{clock="kvm_steal_clock",source="pv-clock"} 1\n');
    // an older recording's summary has no steal block: no steal families at all
    const { steal: _s, ...old } = summary;
    expect(reporters.metrics({ start, summary: old, interruptions: [] })).not.toContain('isolwatch_steal');
  });
});

describe('steal in the live view', () => {
  const base = 7_000_000_000_000;
  const wall = 123_000_000_000;
  const START = {
    type: 'start' as const, version: 't', kernel: 'k', arch: 'x86_64', watched_cpus: [1], isolated: [1], nohz_full: [1],
    pr_isol: 'absent' as const, probes: { attached: [], missing: [] }, ts_ns: base,
    steal: { clock: 'kvm_steal_clock', vm: true, source: 'pv-clock' as const, resolution_ns: 1 },
  };
  /** one interval record a second, as the live session sends them, the hypervisor taking `perS` ns a second */
  const intervals = (n: number, perS: number) =>
    Array.from({ length: n }, (_, i) => ({ type: 'aggregate' as const, scope: 'interval' as const, from_ns: base + i * 1e9, to_ns: base + (i + 1) * 1e9, steal_ns: { 1: perS }, rows: [] }));

  it('live: the share of the rate window the hypervisor took, in the CPU panel and its detail', async () => {
    const { initModel, reduce, cpuRows } = await import('../../tui/model/index.js');
    const { screenText } = await import('../../tui/views/screen.js');
    const { detailLines } = await import('../../tui/views/detail.js');
    const { lineText } = await import('../../tui/format.js');
    let m = initModel(START, { nowNs: wall, cols: 100, rows: 30, countsFrom: 'aggregates' });
    m = reduce(m, { type: 'records', records: intervals(10, 20e6), nowNs: wall + 10e9 });
    const row = cpuRows(m).find((r) => r.cpu === 1)!;
    // the whole seconds of the 5 s window ending now, as for the counts: the current second's interval is still to come
    expect(row.stealFraction).toBeCloseTo(0.016, 6);
    expect(m.stats.cpus['1'].stealNs).toBe(200e6);
    const text = screenText(m);
    expect(text).toMatch(/stolen\s+steal\s+max/);
    expect(text).toMatch(/\s1\.60%\s/);
    const detail = detailLines(m, { stats: m.stats, nowNs: m.nowNs }, { kind: 'cpu', cpu: 1 }, 100).map(lineText).join('\n');
    expect(detail).toContain("steal (the hypervisor's, not an interruption): 200ms (1.60% of the rate window) [kvm_steal_clock, read in ns]");
  });

  it('no steal clock: no column, and a VM says its host time is invisible', async () => {
    const { initModel } = await import('../../tui/model/index.js');
    const { screenText } = await import('../../tui/views/screen.js');
    const { detailLines } = await import('../../tui/views/detail.js');
    const { lineText } = await import('../../tui/format.js');
    const vm = initModel({ ...START, steal: { clock: 'none', vm: true, source: 'none', resolution_ns: 0 } }, { cols: 100, rows: 30 });
    expect(screenText(vm)).not.toMatch(/stolen\s+steal/);
    expect(screenText(vm)).toContain('no steal clock: host time invisible');
    const d = detailLines(vm, { stats: vm.stats, nowNs: 0 }, { kind: 'cpu', cpu: 1 }, 100).map(lineText).join('\n');
    expect(d).toContain('steal: this virtual machine has no steal clock');
    const bare = initModel({ ...START, steal: { clock: 'none', vm: false, source: 'none', resolution_ns: 0 } }, { cols: 100, rows: 30 });
    expect(screenText(bare)).not.toContain('no steal clock');
  });

  it('a replay takes each CPU\'s steal from the summary', async () => {
    const { initModel, reduce, cpuRows } = await import('../../tui/model/index.js');
    let m = initModel(START, { replay: true, cols: 100, rows: 30 });
    const summary = { type: 'summary' as const, duration_s: 10, tasks: [], violations: 0, lost_events: 0, self_caused: 0, cpus: { '1': { by_class: {}, stolen_ns: 0, max_ns: 0, steal_ns: 50e6 } } };
    m = reduce(m, { type: 'records', records: [summary], nowNs: 0 });
    expect(m.stats.cpus['1'].stealNs).toBe(50e6);
    expect(cpuRows(m)[0].stealFraction).toBeCloseTo(0.005, 6);
  });
});

describe('steal in a recording', () => {
  it('report FILE gives the steal the recording ended with, per CPU, and the clock', async () => {
    const { replay } = await import('../../src/commands/report.js');
    const { IW } = await import('../../src/contract/layout.generated.js');
    const steal = { clock: 'kvm_steal_clock', vm: true, source: 'pv-clock' as const, resolution_ns: 1 };
    const start = { type: 'start', version: 't', kernel: 'k', arch: 'x86_64', watched_cpus: [1, 2], isolated: [], nohz_full: [], pr_isol: 'absent', probes: { attached: [], missing: [] }, ts_ns: 1, steal };
    const text = [
      { type: 'recording', abi: IW.IW_ABI_VERSION, start, declared_pids: [], arch: 'x86_64' },
      { type: 'end', duration_s: 2, lost: 0, symbols: {}, aggregates: [], steal: { ...steal, by_cpu: { 1: 5e6, 2: 0 } } },
    ].map((l) => JSON.stringify(l)).join('\n');
    const r = replay(text, 'x.rec');
    expect(r.summary.cpus['1'].steal_ns).toBe(5e6);
    expect(r.summary.cpus['2'].steal_ns).toBe(0);
    expect(r.summary.steal).toEqual(steal);
    // a recording from before steal was read: nothing claimed
    const old = replay(text.replace(/,"steal":\{[^}]*\{[^}]*\}\}/, ''), 'old.rec');
    expect(old.summary.steal).toBeUndefined();
    expect(old.summary.cpus['1']).not.toHaveProperty('steal_ns');
  });
});

describe('doctor: what a VM can and cannot show (fixture trees)', () => {
  const base = { 'sys/devices/system/cpu/online': '0-3\n', 'proc/sys/kernel/osrelease': '6.1.0-t\n', 'proc/uptime': '1000.00 3000.00\n' };
  const KVM_LOG = '6,1,1,-;Hypervisor detected: KVM\n6,2,2,-;kvm-guest: KVM setup pv remote TLB flush\n';
  const KALLSYMS = 'ffffffff8134b6d0 T native_flush_tlb_multi\nffffffff8133a8f0 t kvm_flush_tlb_multi\n';
  const audit = async (files: Record<string, string>, cpus = [3]) => (await import('../../src/doctor/index.js')).auditSystem({ root: tree({ ...base, ...files }), cpus });

  it('a KVM guest with a steal clock: info saying steal is all it can show, with each remedy', async () => {
    const r = await audit({ 'proc/cpuinfo': CPUINFO_VM, 'proc/stat': stat([0, 0, 0, 150]), 'dev/kmsg': KVM_LOG, 'proc/kallsyms': KALLSYMS });
    const f = r.findings.find((x) => x.id === 'vm-steal-clock')!;
    expect(f.severity).toBe('info'); // 1.5 s of 1000 s: 0.15%
    expect(f.title).toBe('KVM guest: what the host takes from CPU 3 shows only as steal time (kvm_steal_clock); hypervisor TLB flushes and host exits show nowhere');
    expect(f.evidence).toContainEqual({ path: '/proc/stat', value: 'steal on CPU 3: 150 ticks = 1.5s since boot (0.15% of 1000s up)' });
    const remedy = f.remedy.join('\n');
    expect(remedy).toMatch(/isolwatch_steal_seconds_total/);
    expect(remedy).toMatch(/preempted by the host \(seen only as steal\).*<vcpupin>.*no overcommit/);
    expect(remedy).toMatch(/host interrupts and exits .*seen nowhere, not even as steal.*isolcpus=domain,managed_irq/);
    expect(remedy).toMatch(/kvm-hint-dedicated=on/); // the paravirt flush of a preempted vCPU
    expect(f.why.text).toMatch(/TLB flushes done by the hypervisor .* show nowhere, not even as steal/);
    expect(f.why.remedies).toEqual(['hw-noise']);
    expect(r.facts.steal).toMatchObject({ clock: 'kvm_steal_clock', vm: true, hypervisor: 'KVM' });
    // the TLB-flush finding stays beside it
    expect(r.findings.map((x) => x.id)).toContain('tlb-flush-paravirt');
  });

  it('the host took a notable share of a watched vCPU since boot: a warning', async () => {
    const r = await audit({ 'proc/cpuinfo': CPUINFO_VM, 'proc/stat': stat([0, 0, 0, 2500]), 'dev/kmsg': KVM_LOG });
    const f = r.findings.find((x) => x.id === 'vm-steal-clock')!;
    expect(f.severity).toBe('warning');
    expect(f.evidence).toContainEqual({ path: '/proc/stat', value: 'steal on CPU 3: 2500 ticks = 25s since boot (2.50% of 1000s up)' });
  });

  it('a VM without a steal clock: a warning that the host\'s time is invisible, and how to get one', async () => {
    const r = await audit({ 'proc/cpuinfo': CPUINFO_VM, 'proc/stat': stat([0, 0, 0, 0]), 'proc/cmdline': 'ro nopv\n' });
    const f = r.findings.find((x) => x.id === 'vm-no-steal-clock')!;
    expect(f.severity).toBe('warning');
    expect(f.title).toBe('A virtual machine without a steal clock: what the host takes from CPU 3 is invisible to every guest tool');
    expect(f.remedy[0]).toMatch(/kvm-steal-time=on.*no nopv/);
    expect(f.evidence.some((e) => e.path === '/proc/stat' && e.value.startsWith('steal on CPU'))).toBe(false);
    expect(r.facts.steal.clock).toBe('none');
  });

  it('a VM whose steal clock cannot be told without BPF: info pointing at watch', async () => {
    const r = await audit({ 'proc/cpuinfo': CPUINFO_VM, 'proc/stat': stat([0, 0, 0, 0]) });
    const f = r.findings.find((x) => x.id === 'vm-steal-unknown')!;
    expect(f.severity).toBe('info');
    expect(f.remedy[0]).toMatch(/isolwatch watch.*start\.steal/);
  });

  it('bare metal, or nothing to tell it by: no VM finding', async () => {
    const bare = await audit({ 'proc/cpuinfo': CPUINFO_BARE, 'proc/stat': stat([0, 0, 0, 0]) });
    expect(bare.findings.filter((x) => x.id.startsWith('vm-'))).toEqual([]);
    expect(bare.facts.steal).toMatchObject({ clock: 'none', vm: false });
    const nothing = await audit({});
    expect(nothing.findings.filter((x) => x.id.startsWith('vm-'))).toEqual([]);
    expect(nothing.facts.steal.clock).toBe('unknown');
  });

  it('a hypervisor TLB flush alone says it is a VM', async () => {
    const r = await audit({ 'proc/kallsyms': 'ffffffff8134b6d0 T native_flush_tlb_multi\nffffffff8133c3e0 t pvm_flush_tlb_multi\n', 'dev/kmsg': '6,1,1,-;pvm-pv: detected, 52/52 sites patched\n' });
    const f = r.findings.find((x) => x.id === 'vm-steal-unknown')!;
    expect(f.evidence).toContainEqual({ path: '/dev/kmsg', value: 'remote TLB flushes go through pvm_flush_tlb_multi: a virtual machine' });
    expect(f.remedy.join('\n')).toMatch(/remote TLB flushes through the hypervisor \(seen nowhere\)/);
  });
});
