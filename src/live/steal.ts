// Steal time of the watched CPUs during a session (src/system/steal.ts says
// what steal is and how the clock is found): which source to read, read once
// at the start and then at every interval, phase change and summary, and the
// growth between readings per CPU. The kernel and the /proc files are
// injected, so a fake stands in for both in the unit tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  KVM_PREEMPTED_THUNK,
  kvmStealLayout,
  NS_PER_USER_HZ_TICK,
  parseProcStatSteal,
  stealClockFromSystem,
  stealClockFromText,
  type StealKernel,
} from '../system/steal.js';
import type { StealInfo, SummarySteal } from '../types.js';

/** Per-CPU steal in ns, cumulative (since boot, or since the clock was last reset); undefined when it cannot be read now. */
export type StealRead = () => Map<number, number> | undefined;

export interface StealSourceFiles {
  /** a file under the system root ('proc/stat'), or undefined when unreadable */
  text(rel: string): string | undefined;
}

export const rootFiles = (root = '/'): StealSourceFiles => ({
  text(rel) {
    try {
      return readFileSync(join(root, rel), 'utf8');
    } catch {
      return undefined;
    }
  },
});

const u64 = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
const MASK64 = (1n << 64n) - 1n;

/**
 * KVM's per-CPU steal clocks read from kernel memory: the per-CPU offsets
 * once (they never change after boot), the u64 `steal` of each CPU's struct
 * kvm_steal_time at every reading (one aligned 8-byte load: never torn).
 */
export function kvmClockReader(k: StealKernel, cpus: readonly number[]): { read: StealRead; evidence: string } | string {
  const thunk = k.symbol(KVM_PREEMPTED_THUNK);
  if (!thunk) return `${KVM_PREEMPTED_THUNK} is not in this kernel`;
  const code = k.read(thunk.addr, 24);
  const layout = code && kvmStealLayout(code);
  if (!layout) return `${KVM_PREEMPTED_THUNK}'s code is not the expected two instructions`;
  const at = new Map<number, bigint>();
  for (const cpu of cpus) {
    const off = k.read((layout.perCpuOffsets + 8n * BigInt(cpu)) & MASK64, 8);
    if (!off || off.length < 8) return `__per_cpu_offset[${cpu}] could not be read`;
    at.set(cpu, (u64(off) + layout.stealTime) & MASK64);
  }
  const read: StealRead = () => {
    const out = new Map<number, number>();
    for (const [cpu, addr] of at) {
      const b = k.read(addr, 8);
      if (!b || b.length < 8) return undefined;
      out.set(cpu, Number(u64(b)));
    }
    return out;
  };
  return { read, evidence: `steal_time at 0x${layout.stealTime.toString(16)} in each CPU's area (from ${KVM_PREEMPTED_THUNK})` };
}

/** /proc/stat's steal column in ns (USER_HZ ticks x 10 ms). */
export function procStatReader(files: StealSourceFiles, cpus: readonly number[]): StealRead {
  return () => {
    const text = files.text('proc/stat');
    if (text === undefined) return undefined;
    const ticks = parseProcStatSteal(text);
    const out = new Map<number, number>();
    for (const cpu of cpus) {
      const t = ticks.get(cpu);
      if (t !== undefined) out.set(cpu, t * NS_PER_USER_HZ_TICK);
    }
    return out;
  };
}

/**
 * Whether a reading of the clock's memory is the clock (a decoding gone wrong
 * reads some other memory): it cannot exceed the time since boot, and the
 * kernel cannot have accounted (ticks) more than it says (up to two ticks of
 * rounding). Undefined when plausible, else why not.
 */
export function implausible(pv: Map<number, number>, procTicks: Map<number, number> | undefined, uptimeNs: number | undefined): string | undefined {
  for (const [cpu, ns] of pv) {
    if (!Number.isFinite(ns) || ns < 0) return `CPU ${cpu}: ${ns}`;
    if (uptimeNs !== undefined && ns > uptimeNs + 1e9) return `CPU ${cpu}: ${ns} ns stolen, more than the ${(uptimeNs / 1e9).toFixed(0)} s since boot`;
    const t = procTicks?.get(cpu);
    if (t !== undefined && t * NS_PER_USER_HZ_TICK > ns + 2 * NS_PER_USER_HZ_TICK) {
      return `CPU ${cpu}: ${ns} ns, less than the ${t} ticks /proc/stat already accounted`;
    }
  }
  return undefined;
}

/**
 * Finds out which steal clock the kernel reads and how to read it: KVM's clock
 * itself in ns where its per-CPU memory can be located and reads plausibly,
 * else /proc/stat in USER_HZ ticks, else nothing (no steal clock: bare metal,
 * or a guest without one).
 */
export function openStealSource(k: StealKernel | undefined, cpus: readonly number[], files: StealSourceFiles): { info: StealInfo; read?: StealRead } {
  const text = k ? stealClockFromText(k) : undefined;
  const guess = stealClockFromSystem({ cpuinfo: files.text('proc/cpuinfo'), procStat: files.text('proc/stat'), kernelLog: [] });
  const clock = text?.clock ?? guess.clock;
  const vm = clock !== 'none' && clock !== 'unknown' ? true : guess.vm;
  const evidence = text?.evidence ?? guess.evidence.join('; ');
  const base = { clock, ...(vm !== undefined ? { vm } : {}) };
  if (clock === 'none') return { info: { ...base, source: 'none', resolution_ns: 0, evidence } };
  const stat = procStatReader(files, cpus);
  let fallbackWhy = '';
  if (clock === 'kvm_steal_clock' && k) {
    const pv = kvmClockReader(k, cpus);
    if (typeof pv === 'string') fallbackWhy = pv;
    else {
      const first = pv.read();
      const uptime = Number(files.text('proc/uptime')?.split(/\s+/)[0]);
      const why = first ? implausible(first, parseProcStatSteal(files.text('proc/stat') ?? ''), Number.isFinite(uptime) ? uptime * 1e9 : undefined) : 'unreadable';
      if (!why) return { info: { ...base, source: 'pv-clock', resolution_ns: 1, evidence: `${evidence}; ${pv.evidence}` }, read: pv.read };
      fallbackWhy = `the clock read from memory is implausible (${why})`;
    }
  }
  const first = stat();
  if (!first || first.size === 0) return { info: { ...base, source: 'none', resolution_ns: 0, evidence: `${evidence}; /proc/stat has no steal column for the watched CPUs` } };
  return {
    info: { ...base, source: 'proc-stat', resolution_ns: NS_PER_USER_HZ_TICK, evidence: `${evidence}${fallbackWhy ? `; read from /proc/stat: ${fallbackWhy}` : ''}` },
    read: stat,
  };
}

interface Snapshot {
  ts_ns: number;
  values: Map<number, number>;
}

/** The growth of each CPU's clock from a to b; a clock that went back was reset (CPU offline and online): it grew by what it shows. */
function growth(a: Snapshot, b: Snapshot, cpus: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const cpu of cpus) {
    const x = a.values.get(cpu);
    const y = b.values.get(cpu);
    if (y === undefined) continue;
    out[String(cpu)] = x === undefined ? 0 : y < x ? y : y - x;
  }
  return out;
}

/**
 * The steal of the watched CPUs over a session: read at the start, at each
 * interval, at phase changes (run: the judged window), and last when tracing
 * stops (then every later question gets that last reading).
 */
export class StealMeter {
  private readonly start: Snapshot;
  private lastInterval: Snapshot;
  private last: Snapshot;
  private frozen = false;
  private readonly marks = new Map<string, Snapshot>();

  constructor(
    readonly info: StealInfo,
    readonly cpus: readonly number[],
    private readonly reader: StealRead | undefined,
    private readonly now: () => number,
  ) {
    this.start = this.take();
    this.lastInterval = this.start;
    this.last = this.start;
  }

  /** Whether there is anything to read. */
  get readable(): boolean {
    return this.reader !== undefined && this.info.source !== 'none';
  }

  private take(): Snapshot {
    if (this.frozen) return this.last;
    const values = this.readable ? this.reader!() : undefined;
    // a failed reading keeps the previous one: nothing grew that we can say
    const snap = { ts_ns: this.now(), values: values ?? this.last?.values ?? new Map() };
    this.last = snap;
    return snap;
  }

  /** Steal per CPU since the previous call (or the start), in ns; undefined without a steal clock. */
  interval(): Record<string, number> | undefined {
    if (!this.readable) return undefined;
    const now = this.take();
    const out = growth(this.lastInterval, now, this.cpus);
    this.lastInterval = now;
    return out;
  }

  /** Steal per CPU since the start, in ns; undefined without a steal clock. */
  total(): Record<string, number> | undefined {
    if (!this.readable) return undefined;
    return growth(this.start, this.take(), this.cpus);
  }

  /** Marks a phase's start (run: 'judged', 'after'), for window(). */
  mark(name: string): void {
    if (!this.marks.has(name)) this.marks.set(name, this.take());
  }

  /** Steal per CPU from one mark to the next (or to now), with the span's length; undefined when `from` was never marked. */
  window(from: string, to?: string): { window_ns: number; by_cpu: Record<string, number> } | undefined {
    const a = this.marks.get(from);
    if (!a || !this.readable) return undefined;
    const b = (to !== undefined ? this.marks.get(to) : undefined) ?? this.take();
    return { window_ns: Math.max(0, b.ts_ns - a.ts_ns), by_cpu: growth(a, b, this.cpus) };
  }

  /** Takes the last reading: what tracing saw ends here (summary and totals then agree). */
  freeze(): void {
    if (this.frozen) return;
    this.take();
    this.frozen = true;
  }

  /** The summary's `steal` block; `judged` when the session went through a judged phase (run). */
  summary(): SummarySteal {
    const { evidence: _e, ...info } = this.info;
    const judged = this.marks.has('judged') ? this.window('judged', 'after') : undefined;
    return { ...info, ...(judged ? { judged } : {}) };
  }
}
