// A live tracing session: opens build/isolwatch.bpf.o, picks probe groups,
// probes optional tracepoints, writes settings, loads, attaches, drains the
// ring buffer from a timer, reads the authoritative counters, and tears down
// on one path. Owns every native resource through BpfObject.
import { existsSync, readFileSync } from 'node:fs';
import { bpfObjectPath } from '../paths.js';
import { decodeRecord, type RawRecord } from '../contract/decode.js';
import { IW, LAYOUT } from '../contract/layout.generated.js';
import { BpfObject, hasTracepoint } from '../libbpf/index.js';
import { kallsymsHas } from '../system/kallsyms.js';
import { assertCanTrace } from '../system/preflight.js';
import { CLASSES, type InterruptionClass } from '../types.js';

import { EnvironmentError, UsageError } from '../errors.js';
import { groupOf, ON_DEMAND_PROGRAMS, PROBE_GROUPS } from './probes.js';

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
  /** syscall records only for tracked tasks (trackProcess, PR_ISOL callers): --pid and run */
  syscallsTrackedOnly?: boolean;
  /** kernel threads can be preemption victims (rodata iw_kthread_victims) */
  kthreadVictims?: boolean;
}

export interface KernelCounts {
  /** cpu -> class -> count (authoritative, survives ring-buffer loss) */
  byCpu: Record<string, Partial<Record<InterruptionClass, number>>>;
  stolenByCpu: Record<string, number>;
  lost: number;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

export class Session {
  readonly attached: string[] = [];
  readonly missing: string[] = [];
  private closed = false;
  private readonly obj: BpfObject;

  private constructor(obj: BpfObject, private cpus: number[]) {
    this.obj = obj;
  }

  static open(opts: SessionOptions): Session {
    const objPath = opts.objPath ?? defaultObjectPath();
    if (!existsSync(objPath)) throw new EnvironmentError(`BPF object ${objPath} is missing: run 'npm run build' (or 'npm start', which builds on first use)`);
    assertCanTrace(); // root or CAP_BPF + CAP_PERFMON, and a kernel with BTF
    const obj = BpfObject.open(objPath, { btfCustomPath: opts.btfCustomPath });
    const s = new Session(obj, opts.cpus);
    try {
      s.configure(opts);
      obj.load();
      s.setWatched(opts.cpus);
      s.attached.push(...obj.attachAll((p) => ON_DEMAND_PROGRAMS.includes(p)).map((p) => obj.programInfo(p).attachTarget ?? p));
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
    // the IPI-sender kprobes stand in for ipi_send_* (6.4+): only where those are missing
    const kprobesNeeded = kprobeTargets.length > 0 && !hasTracepoint('ipi_send_cpu');
    let inKallsyms: Set<string> | undefined; // read once, only when a kprobe is wanted
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
        if (kprobesNeeded) inKallsyms ??= new Set(kallsymsHas(readFileSync('/proc/kallsyms', 'utf8'), kprobeTargets));
        const present = kprobesNeeded && inKallsyms!.has(target);
        if (!present) obj.setAutoload(name, false);
        if (kprobesNeeded && !present && !targets.has(target)) this.missing.push(target);
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
    obj.setRodata('iw_syscalls_tracked_only', u32(opts.syscallsTrackedOnly ? 1 : 0));
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

  /** Decodes every pending record (at most max) and hands them over in order. */
  drain(onRecords: (recs: RawRecord[]) => void, max = 200_000): number {
    if (this.closed) return 0;
    const out: RawRecord[] = [];
    this.obj.ringBuffer('iw_events').drain((buf) => out.push(decodeRecord(buf)), max);
    if (out.length) onRecords(out);
    return out.length;
  }

  counts(): KernelCounts {
    const map = this.obj.map('iw_counts');
    const byCpu: KernelCounts['byCpu'] = {};
    const stolenByCpu: Record<string, number> = {};
    let lost = 0;
    for (let cls = 0; cls <= IW.IW_COUNTER_LOST; cls++) {
      const vals = map.lookupPerCpu(u32(cls));
      vals.forEach((v, cpu) => {
        const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
        const count = Number(dv.getBigUint64(COUNTER.count.offset, true));
        if (cls === IW.IW_COUNTER_LOST) {
          lost += count;
          return;
        }
        if (!this.cpus.includes(cpu) && count === 0) return;
        const c = (byCpu[String(cpu)] ??= {});
        if (count) c[CLASSES[cls]] = count;
        stolenByCpu[String(cpu)] = (stolenByCpu[String(cpu)] ?? 0) + Number(dv.getBigUint64(COUNTER.stolen_ns.offset, true));
      });
    }
    return { byCpu, stolenByCpu, lost };
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

  /** Single teardown path (the caller drains a last time first): detach and free. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.obj.close();
  }
}
