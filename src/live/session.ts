// A live tracing session: opens build/isolwatch.bpf.o, picks probe groups,
// probes optional tracepoints, writes settings, loads, attaches, drains the
// ring buffer from a timer, reads the authoritative counters, and tears down
// on one path. Owns every native resource through BpfObject.
import { existsSync, readFileSync } from 'node:fs';
import { bpfObjectPath } from '../paths.js';
import { AGG_KEY_SIZE, AGG_VALUE_SIZE, decodeAggKey, decodeAggValue, encodeAggKey, type RawAggKey, type RawAggregate } from '../contract/aggregate.js';
import { decodeRecord, type RawRecord } from '../contract/decode.js';
import { IW, LAYOUT } from '../contract/layout.generated.js';
import { BpfObject, hasTracepoint, kallsymsLookupSupported } from '../libbpf/index.js';
import { kallsymsHas } from '../system/kallsyms.js';
import { readTickDevices } from '../system/timer-list.js';
import { assertCanTrace, CAP_SYS_ADMIN, hostFacts, VMLINUX_BTF } from '../system/preflight.js';
import { CLASSES, type InterruptionClass } from '../types.js';

import { EnvironmentError, UsageError } from '../errors.js';
import { attachRank, groupOf, ON_DEMAND_PROGRAMS, PROBE_GROUPS } from './probes.js';

export const defaultObjectPath = bpfObjectPath;

const COUNTER = LAYOUT.iw_counter.fields;

/** What an armed thread gets from the kernel side (bpf/events.h struct iw_signal_arm). */
export interface SignalArm {
  signo: number;
  onSyscall: boolean;
  onFault: boolean;
  cooldownNs?: number;
  rateLimit?: { count: number; windowNs: number };
}

export interface SessionOptions {
  cpus: number[];
  probes: Set<string>;
  objPath?: string;
  /** CO-RE relocations against this BTF instead of the kernel's (libbpf btf_custom_path; tests of kernel-only fields). */
  btfCustomPath?: string;
  selfTgid?: number;
  /** sampled (default): the first record of each aggregate key and exemplarsPerS more a second; all: every record */
  records?: RecordMode;
  /** sampled mode: records a second per key after its first (default 10) */
  exemplarsPerS?: number;
  /** in-kernel signals may be armed (--enforce): the entries look them up (rodata iw_signals) */
  signals?: boolean;
  /** kernel threads can be preemption victims (rodata iw_kthread_victims) */
  kthreadVictims?: boolean;
}

/** One class on one CPU (struct iw_counter): count + self_caused = delivered + sampled + lost, exactly. */
export interface ClassAccount {
  /** interruptions, not counting what isolwatch caused */
  count: number;
  self_caused: number;
  /** records put on the ring */
  delivered: number;
  /** records not sent (sampled mode: only the first of a key and a few a second reach user space) */
  sampled: number;
  /** records the ring had no room for */
  lost: number;
  stolen_ns: number;
  max_ns: number;
  hist: number[];
}

export interface KernelCounts {
  /** cpu -> class -> count (authoritative: survives sampling and ring-buffer loss) */
  byCpu: Record<string, Partial<Record<InterruptionClass, number>>>;
  stolenByCpu: Record<string, number>;
  maxByCpu: Record<string, number>;
  /** cpu -> class -> the whole account of its records */
  accounts: Record<string, Partial<Record<InterruptionClass, ClassAccount>>>;
  /** interruptions isolwatch caused itself, all CPUs */
  selfCaused: number;
  /** records of every type the ring had no room for */
  lost: number;
  /** records that are not interruptions (isol, fork, exit) */
  other: { delivered: number; lost: number };
}

/** Which records reach user space (rodata iw_record_mode). */
export type RecordMode = 'sampled' | 'all';

/** Ring buffer sizes (bytes): --records all / sampled. */
export const RING_ALL = 16 << 20;
export const RING_SAMPLED = 2 << 20;

/** Can kprobes be attached here: the perf kprobe PMU (4.17+) or tracefs kprobe_events (CONFIG_KPROBE_EVENTS). */
export function kprobesSupported(): boolean {
  return ['/sys/bus/event_source/devices/kprobe', '/sys/kernel/tracing/kprobe_events', '/sys/kernel/debug/tracing/kprobe_events'].some((p) => existsSync(p));
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function u64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

export class Session {
  readonly attached: string[] = [];
  readonly missing: string[] = [];
  /** the programs attachAll() attached (their names; `attached` has their targets) */
  private programs: string[] = [];
  private closed = false;
  private readonly obj: BpfObject;

  private constructor(obj: BpfObject, private cpus: number[]) {
    this.obj = obj;
  }

  static open(opts: SessionOptions): Session {
    const objPath = opts.objPath ?? defaultObjectPath();
    if (!existsSync(objPath)) throw new EnvironmentError(`BPF object ${objPath} is missing: run 'npm run build' (or 'npm start', which builds on first use)`);
    const facts = hostFacts();
    assertCanTrace(facts); // root or CAP_BPF + CAP_PERFMON, and a kernel with BTF
    // Without CAP_SYS_ADMIN libbpf may not open kernel modules' BTF, which its CO-RE search reads
    // when a type (the PR_ISOL task state of a stock kernel) is not in vmlinux: the kernel's own
    // BTF as the only target keeps CAP_BPF + CAP_PERFMON enough (the programs use no module types).
    const noSysAdmin = facts.capEff !== undefined && (facts.capEff & (1n << BigInt(CAP_SYS_ADMIN))) === 0n;
    const obj = BpfObject.open(objPath, { btfCustomPath: opts.btfCustomPath ?? (noSysAdmin ? VMLINUX_BTF : undefined) });
    const s = new Session(obj, opts.cpus);
    try {
      s.configure(opts);
      obj.load();
      s.setWatched(opts.cpus);
      s.programs = obj.attachAll((p) => ON_DEMAND_PROGRAMS.includes(p), attachRank);
      s.attached.push(...s.programs.map((p) => obj.programInfo(p).attachTarget ?? p));
      s.seedTimerDevices();
    } catch (e) {
      obj.close();
      throw e;
    }
    return s;
  }

  private configure(opts: SessionOptions): void {
    const obj = this.obj;
    const targets = new Map<string, boolean>();
    const kprobeTargets = obj
      .programNames()
      .filter((n) => obj.programInfo(n).section.startsWith('kprobe/'))
      .map((n) => obj.programInfo(n).attachTarget ?? n);
    // the IPI-sender kprobes stand in for ipi_send_* (6.4+): only where those are missing; the others
    // always, on kernels that have kprobes at all (CONFIG_KPROBE_EVENTS: libbpf attaches through the
    // perf kprobe PMU or tracefs kprobe_events; without both the attach fails)
    const fallbacksNeeded = !hasTracepoint('ipi_send_cpu');
    const kprobes = kprobesSupported();
    let inKallsyms: Set<string> | undefined; // read once, only when a kprobe is wanted
    // iw_kaddr needs a syscall program that may call bpf_kallsyms_lookup_name (5.16+); without it names come from /proc/kallsyms
    if (!kallsymsLookupSupported()) obj.setAutoload('iw_kaddr', false);
    for (const name of obj.programNames()) {
      if (ON_DEMAND_PROGRAMS.includes(name)) continue;
      const group = groupOf(name);
      if (group === undefined) throw new Error(`program ${name} of ${obj.file} belongs to no probe group: add it to PROGRAM_GROUPS in src/live/probes.ts`);
      const target = obj.programInfo(name).attachTarget ?? name;
      const wanted = opts.probes.has(group);
      if (!wanted) {
        obj.setAutoload(name, false);
        continue;
      }
      if (obj.programInfo(name).section.startsWith('kprobe/')) {
        const needed = !name.startsWith('handle_ipi_fallback_') || fallbacksNeeded;
        if (needed && kprobes) inKallsyms ??= new Set(kallsymsHas(readFileSync('/proc/kallsyms', 'utf8'), kprobeTargets));
        const present = needed && kprobes && inKallsyms!.has(target);
        if (!present) obj.setAutoload(name, false);
        if (needed && !present && !targets.has(target)) this.missing.push(target);
        targets.set(target, present);
        continue;
      }
      const present = hasTracepoint(target);
      if (!present) {
        if (PROBE_GROUPS[group].core) {
          throw new EnvironmentError(`core tracepoint '${target}' is missing from this kernel's BTF (btf_trace_${target}); isolwatch cannot run here`);
        }
        obj.setAutoload(name, false);
        if (!targets.has(target)) this.missing.push(target);
      }
      targets.set(target, present);
    }
    const syscalls = opts.probes.has('syscalls') ? 1 : 0;
    obj.setRodata('iw_self_tgid', u32(opts.selfTgid ?? process.pid));
    obj.setRodata('iw_trace_syscalls', u32(syscalls));
    obj.setRodata('iw_trace_prctl', u32(syscalls));
    obj.setRodata('iw_kthread_victims', u32(opts.kthreadVictims ? 1 : 0));
    obj.setRodata('iw_record_mode', u32(opts.records === 'all' ? IW.IW_RECORDS_ALL : IW.IW_RECORDS_SAMPLED));
    // every record needs room for bursts between two drains; samples need little (mapped twice, it is in RSS twice)
    obj.setMaxEntries('iw_events', opts.records === 'all' ? RING_ALL : RING_SAMPLED);
    obj.setRodata('iw_exemplars_per_s', u32(opts.exemplarsPerS ?? 10));
    obj.setRodata('iw_signals', u32(opts.signals ? 1 : 0));
  }

  /**
   * What each CPU's timer device was set for before the clockevents_program_event kprobe was
   * attached (read after it, so the kprobe's own later values win): without it, an interruption
   * from a device programmed long ago and firing early (see timer_early, bpf/isolwatch.bpf.c)
   * would have no cause. Unreadable /proc/timer_list: those few stay without one.
   */
  private seedTimerDevices(): void {
    if (!this.attached.includes('clockevents_program_event')) return;
    const map = this.obj.map('iw_timer_dev');
    for (const d of readTickDevices() ?? []) {
      if (d.next_event_ns !== undefined && d.cpu < IW.IW_MAX_CPUS) map.update(u32(IW.IW_MAX_CPUS + d.cpu), u64(BigInt(d.next_event_ns)));
    }
  }

  /**
   * What CPU `cpu`'s timer device was last set to fire for (ns, the ts_ns clock): the kprobe's
   * value, else the /proc/timer_list seed; undefined when neither is known.
   */
  timerDeviceExpiry(cpu: number): number | undefined {
    if (this.closed || cpu >= IW.IW_MAX_CPUS) return undefined;
    const map = this.obj.map('iw_timer_dev');
    for (const key of [cpu, IW.IW_MAX_CPUS + cpu]) {
      const v = map.lookup(u32(key));
      const ns = v ? new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true) : 0n;
      if (ns) return Number(ns);
    }
    return undefined;
  }

  /** Changes the watched CPUs at run time (both maps the programs read). */
  setWatched(cpus: number[]): void {
    const watched = this.obj.map('iw_watched');
    const list = this.obj.map('iw_watch_list');
    const want = new Set(cpus);
    for (const c of new Set([...this.cpus, ...cpus])) {
      if (c >= IW.IW_MAX_CPUS || c >= IW.IW_MAX_WATCH) throw new UsageError(`CPU ${c} is beyond the ${Math.min(IW.IW_MAX_CPUS, IW.IW_MAX_WATCH)} CPUs isolwatch supports`);
      watched.update(u32(c), Uint8Array.of(want.has(c) ? 1 : 0));
    }
    const sorted = [...want].sort((a, b) => a - b); // at most IW_MAX_WATCH (= IW_MAX_CPUS), checked above
    sorted.forEach((c, i) => list.update(u32(i + 1), u32(c)));
    list.update(u32(0), u32(sorted.length));
    this.cpus = [...want];
  }

  /** Hands every pending record (at most max) over in order, undecoded: `len` bytes at `off` of `dv`, valid only during the call. */
  drainRaw(onRecord: (dv: DataView, off: number, len: number) => void, max = 200_000): number {
    if (this.closed) return 0;
    return this.obj.ringBuffer('iw_events').drainRaw(onRecord, max);
  }

  /** Decodes every pending record (at most max) and hands them over in order. */
  drain(onRecords: (recs: RawRecord[]) => void, max = 200_000): number {
    if (this.closed) return 0;
    const out: RawRecord[] = [];
    this.obj.ringBuffer('iw_events').drain((buf) => out.push(decodeRecord(buf)), max);
    if (out.length) onRecords(out);
    return out.length;
  }

  /** The per-CPU class counters (map iw_counts), summed over nothing: exact per CPU and class. */
  counts(): KernelCounts {
    const map = this.obj.map('iw_counts');
    const out: KernelCounts = { byCpu: {}, stolenByCpu: {}, maxByCpu: {}, accounts: {}, selfCaused: 0, lost: 0, other: { delivered: 0, lost: 0 } };
    const u = (dv: DataView, off: number) => Number(dv.getBigUint64(off, true));
    for (let cls = 0; cls < IW.IW_COUNTERS; cls++) {
      map.lookupPerCpu(u32(cls)).forEach((v, cpu) => {
        const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
        const a: ClassAccount = {
          count: u(dv, COUNTER.count.offset),
          self_caused: u(dv, COUNTER.self_caused.offset),
          delivered: u(dv, COUNTER.delivered.offset),
          sampled: u(dv, COUNTER.sampled.offset),
          lost: u(dv, COUNTER.lost.offset),
          stolen_ns: u(dv, COUNTER.stolen_ns.offset),
          max_ns: u(dv, COUNTER.max_ns.offset),
          hist: Array.from({ length: IW.IW_HIST_BUCKETS }, (_, i) => dv.getUint32(COUNTER.hist.offset + 4 * i, true)),
        };
        out.lost += a.lost;
        if (cls === IW.IW_COUNTER_OTHER) {
          out.other.delivered += a.delivered;
          out.other.lost += a.lost;
          return;
        }
        out.selfCaused += a.self_caused;
        if (!this.cpus.includes(cpu) && a.count + a.self_caused === 0) return;
        const key = String(cpu);
        const name = CLASSES[cls];
        const c = (out.byCpu[key] ??= {});
        if (a.count) c[name] = a.count;
        (out.accounts[key] ??= {})[name] = a;
        out.stolenByCpu[key] = (out.stolenByCpu[key] ?? 0) + a.stolen_ns;
        out.maxByCpu[key] = Math.max(out.maxByCpu[key] ?? 0, a.max_ns);
      });
    }
    return out;
  }

  /**
   * The in-kernel aggregates (maps iw_agg and iw_agg_overflow), read in
   * batches; with `sinceNs`, only those an interruption reached at or after
   * that time (value.last_ns): the rest is not even decoded.
   */
  aggregates(sinceNs?: number): RawAggregate[] {
    const out: RawAggregate[] = [];
    const lastNs = LAYOUT.iw_agg_value.fields.last_ns.offset;
    for (const name of ['iw_agg', 'iw_agg_overflow']) {
      const e = this.obj.map(name).entries();
      const dv = new DataView(e.values.buffer, e.values.byteOffset, e.values.byteLength);
      for (let i = 0; i < e.count; i++) {
        if (sinceNs !== undefined) {
          const o = i * AGG_VALUE_SIZE + lastNs;
          if (dv.getUint32(o + 4, true) * 2 ** 32 + dv.getUint32(o, true) < sinceNs) continue;
        }
        out.push({ key: decodeAggKey(e.keys, i * AGG_KEY_SIZE), value: decodeAggValue(e.values, i * AGG_VALUE_SIZE) });
      }
    }
    return out;
  }

  /**
   * Takes aggregates out of the kernel's table (iw_agg), each read and removed
   * in one step: what they counted is the caller's to keep. For keys that can
   * count no more (their victim or sender has exited), so that a long-lived
   * session does not fill the table (serve). Keys no longer there are skipped.
   */
  takeAggregates(keys: readonly RawAggKey[]): RawAggregate[] {
    const map = this.obj.map('iw_agg');
    const out: RawAggregate[] = [];
    for (const key of keys) {
      const v = map.take(encodeAggKey(key));
      if (v) out.push({ key, value: decodeAggValue(v) });
    }
    return out;
  }

  /** Moves interruptions from now on into another epoch (their aggregate keys carry it: run's phases). */
  setEpoch(epoch: number): void {
    this.obj.map('iw_epoch').update(u32(0), u32(epoch));
  }

  /** Up to IW_KREAD_MAX - 1 bytes of kernel memory (program iw_kread), or undefined when unreadable. */
  readKernel(addr: bigint, len: number): Uint8Array | undefined {
    if (len <= 0 || len >= IW.IW_KREAD_MAX) throw new RangeError(`readKernel: ${len} bytes (at most ${IW.IW_KREAD_MAX - 1})`);
    const ctx = new Uint8Array(16);
    const dv = new DataView(ctx.buffer);
    dv.setBigUint64(0, addr, true);
    dv.setBigUint64(8, BigInt(len), true);
    if (this.obj.testRun('iw_kread', ctx) !== 0) return undefined;
    return this.obj.map('iw_kread_buf').lookup(u32(0))?.slice(0, len) ?? undefined;
  }

  /** The kernel's "%pS" text for an address ("func+0x1c/0x80"), or undefined when it has none or cannot say. */
  kernelSymbol(addr: bigint): string | undefined {
    if (this.closed) return undefined;
    const n = this.obj.testRun('iw_ksym', u64(addr));
    if (n <= 0) return undefined;
    const page = this.obj.map('iw_kread_buf').lookup(u32(0));
    if (!page) return undefined;
    const end = page.indexOf(0);
    return Buffer.from(page.subarray(0, end < 0 ? Math.min(n, IW.IW_KSYM_TEXT) : end)).toString('latin1');
  }

  /** A kernel symbol's address by name (iw_kaddr); undefined when absent, null when this kernel cannot look names up. */
  kernelAddress(name: string): bigint | undefined | null {
    if (this.closed) return null;
    if (!this.obj.programInfo('iw_kaddr').autoload) return null;
    const L = LAYOUT.iw_kaddr_args;
    const args = new Uint8Array(L.size);
    const bytes = Buffer.from(name, 'latin1');
    if (bytes.length >= IW.IW_KSYM_NAME) return undefined;
    args.set(bytes, L.fields.name.offset);
    // a syscall program's context is copied back into the same buffer (ctx_out is refused)
    this.obj.testRun('iw_kaddr', args);
    const dv = new DataView(args.buffer);
    const err = dv.getBigInt64(L.fields.err.offset, true);
    const addr = dv.getBigUint64(L.fields.addr.offset, true);
    return err === 0n && addr !== 0n ? addr : undefined;
  }

  /** What CO-RE found in this kernel's BTF at load (IW_FEAT_* bits, program iw_features). */
  features(): number {
    return this.obj.testRun('iw_features', new Uint8Array(8));
  }

  /**
   * Arms an in-kernel signal for one thread (struct iw_signal_arm): sent with
   * bpf_send_signal_thread from its own syscall entries and/or user page
   * faults, subject to the cooldown and rate limit the kernel side keeps.
   */
  armSignal(tid: number, arm: SignalArm): void {
    const L = LAYOUT.iw_signal_arm;
    const v = new Uint8Array(L.size);
    const dv = new DataView(v.buffer);
    const f = L.fields;
    dv.setBigUint64(f.cooldown_ns.offset, BigInt(Math.round(arm.cooldownNs ?? 0)), true);
    dv.setBigUint64(f.window_ns.offset, BigInt(Math.round(arm.rateLimit?.windowNs ?? 0)), true);
    dv.setUint32(f.signo.offset, arm.signo, true);
    dv.setUint32(f.on.offset, (arm.onSyscall ? IW.IW_SIG_ON_SYSCALL : 0) | (arm.onFault ? IW.IW_SIG_ON_FAULT : 0), true);
    dv.setUint32(f.max_per_window.offset, arm.rateLimit?.count ?? 0, true);
    this.obj.map('iw_signal').update(u32(tid), v);
  }
  disarmSignal(tid: number): void {
    this.obj.map('iw_signal').delete(u32(tid));
  }

  /** Reports fork/exit of this process and of the processes it forks from now on (declared isolated: --pid, run). */
  trackProcess(pid: number): void {
    this.obj.map('iw_track_pid').update(u32(pid), Uint8Array.of(1));
  }

  /**
   * Runs of isolwatch's probes the kernel skipped because a program was already running on that
   * CPU (a tracepoint program interrupted by its own tracepoint, or any kprobe program by a
   * kprobe): what happened then was not seen, and an entry whose exit was skipped leaves its
   * episode open. Probe (attach target) -> runs skipped, only those that skipped any; still
   * readable after detach(), final then.
   */
  probeMisses(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [probe, s] of Object.entries(this.probeStats())) if (s.misses) out[probe] = s.misses;
    return out;
  }

  /** What the kernel counts of each attached probe's program (BpfObject.programStats), by probe. */
  probeStats(): Record<string, { runs: number; runNs: number; misses: number }> {
    const out: Record<string, { runs: number; runNs: number; misses: number }> = {};
    if (this.closed) return out;
    for (const p of this.programs) {
      const s = this.obj.programStats(p);
      const t = (out[this.obj.programInfo(p).attachTarget ?? p] ??= { runs: 0, runNs: 0, misses: 0 });
      t.runs += s.runs;
      t.runNs += s.runNs;
      t.misses += s.misses;
    }
    return out;
  }

  /**
   * Stops tracing: every program detached, the maps kept. What the ring, the
   * counters and the aggregates hold is then final: a last drain and the
   * summary read one consistent state.
   */
  detach(): void {
    if (this.closed) return;
    this.obj.detachAll();
  }

  /** Single teardown path (the caller drains a last time first): detach and free. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.obj.close();
  }
}
