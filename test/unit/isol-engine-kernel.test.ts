// The engine on a stream whose interruptions carry kernel PR_ISOL masks
// (IW_F_ISOL_KERNEL: what bpf/core_fixes.bpf.h reads on a kernel with the
// series). No such kernel here, so the stream is synthesized: ring-buffer
// bytes written through the BTF-generated layout (src/contract/layout.generated.ts),
// decoded by the real decoder, written as a real recording and replayed by
// `isolwatch report`'s pure replay(). Checks: active vs inactive windows,
// isol.source kernel > prctl > declared, violations only while active or
// declared, own syscalls inside an active window, and the vmstat quiesce
// failure with the mlockall() hint.
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/commands/report.js';
import { decodeRecord, type RawRecord } from '../../src/contract/decode.js';
import { LAYOUT, IW } from '../../src/contract/layout.generated.js';
import { encodeLine } from '../../src/contract/recording.js';
import type { InterruptionRecord, IsolRecord } from '../../src/types.js';

type Fields = Record<string, bigint | number | string | bigint[]>;
type Struct = keyof typeof LAYOUT;

/** Writes the named fields of a struct at its generated offsets (hdr.* for the header). */
function write(dv: DataView, bytes: Uint8Array, struct: Struct, base: number, f: Fields): void {
  const fields = LAYOUT[struct].fields as Record<string, { offset: number; size: number; kind: string }>;
  for (const [name, v] of Object.entries(f)) {
    const [head, sub] = name.split('.');
    const fl = fields[head];
    if (!fl) throw new Error(`${struct} has no field ${head}`);
    if (sub) {
      write(dv, bytes, 'iw_hdr', base + fl.offset, { [sub]: v });
      continue;
    }
    const o = base + fl.offset;
    if (Array.isArray(v)) v.forEach((x, i) => dv.setBigUint64(o + i * 8, x, true));
    else if (fl.kind === 'char') bytes.set(new TextEncoder().encode(String(v)).subarray(0, fl.size - 1), o);
    else if (fl.size === 8) dv.setBigUint64(o, BigInt.asUintN(64, BigInt(v)), true);
    else if (fl.size === 4) dv.setUint32(o, Number(v), true);
    else if (fl.size === 2) dv.setUint16(o, Number(v), true);
    else if (fl.size === 1) dv.setUint8(o, Number(v));
  }
}

function encode(struct: Struct, f: Fields, chain: Fields[] = []): Uint8Array {
  const bytes = new Uint8Array(LAYOUT[struct].size);
  const dv = new DataView(bytes.buffer);
  write(dv, bytes, struct, 0, f);
  chain.forEach((e, i) => write(dv, bytes, 'iw_entry', LAYOUT.iw_interruption.fields.chain.offset + i * LAYOUT.iw_entry.size, e));
  if (struct === 'iw_interruption') dv.setUint16(LAYOUT.iw_interruption.fields.chain_len.offset, chain.length, true);
  return bytes;
}

const P = 200; // the isolated application
const T = 201; // its isolated thread
const VMSTAT = 0xffffffff81234560n;
const SYMBOLS = { [VMSTAT.toString()]: 'vmstat_update' };
const GETPPID = 110;

let ts = 1_000_000n;
const next = () => (ts += 1000n);
interface Kernel {
  conf?: bigint;
  active?: bigint;
  quiesce?: bigint;
}

/** An interruption of tid as the BPF side emits it; kernel masks only when k is given. */
function interruption(tid: number, pid: number, what: 'tick' | 'syscall' | 'vmstat', k?: Kernel): Uint8Array {
  const t = next();
  const flags = k ? IW.IW_F_ISOL_KERNEL : 0;
  const masks: Record<string, bigint> = k ? { isol_conf_mask: k.conf ?? 0n, isol_active_mask: k.active ?? 0n, isol_quiesce_mask: k.quiesce ?? 0n } : {};
  const base = { 'hdr.ts_ns': t, 'hdr.type': IW.IW_REC_INTERRUPTION, 'hdr.cpu': 3, duration_ns: 2000n, victim_pid: pid, victim_tid: tid, victim_comm: 'rt-app', flags, ...masks };
  if (what === 'tick') return encode('iw_interruption', { ...base, cause_ctx: IW.IW_CTX_NONE }, [{ class: IW.IW_CLASS_TIMER, kind: IW.IW_VEC_LOCAL_TIMER, start_ns: t, duration_ns: 2000 }]);
  if (what === 'syscall')
    return encode('iw_interruption', { ...base, cause_ctx: IW.IW_CTX_SELF, cause_pid: pid, cause_tid: tid, cause_comm: 'rt-app', cause_cpu: 3 }, [
      { class: IW.IW_CLASS_SYSCALL, kind: GETPPID, start_ns: t, duration_ns: 2000 },
    ]);
  return encode('iw_interruption', { ...base, cause_ctx: IW.IW_CTX_SOFTIRQ, cause_cpu: 3, cause_func: VMSTAT }, [
    { class: IW.IW_CLASS_WORKQUEUE, kind: 0, func: VMSTAT, start_ns: t, duration_ns: 2000, name: 'mm_percpu_wq' },
  ]);
}

/** A PR_ISOL prctl of T that returned 0 on an ABI kernel (entry reads as bpf/isolwatch.bpf.c does them). */
function prctl(option: number, f: Fields): Uint8Array {
  return encode('iw_isol_call', { 'hdr.ts_ns': next(), 'hdr.type': IW.IW_REC_ISOL, 'hdr.cpu': 3, pid: P, tid: T, option, comm: 'rt-app', result: 0n, ...f });
}

function fork(parentTid: number, childPid: number, childTid: number): Uint8Array {
  return encode('iw_task_event', { 'hdr.ts_ns': next(), 'hdr.type': IW.IW_REC_FORK, 'hdr.cpu': 3, pid: childPid, tid: childTid, parent_pid: P, parent_tid: parentTid, flags: IW.IW_TASK_TRACKED_TID, comm: 'rt-app' });
}

const PTR = 0x7ffd_0000_1000n;
const stream: [string, Uint8Array][] = [
  // the application configures vmstat quiescing, inheritance conf|active, and activates
  ['cfg', prctl(65, { arg2: 1n, arg3: 1n, arg4: PTR, ctl: [0n, 1n], in_mask: 0n, read_ok: 5 })],
  ['inherit', prctl(65, { arg2: 2n, arg4: PTR, ctl: [3n, 0n], in_mask: 3n, read_ok: 5 })],
  ['activate', prctl(67, { arg2: PTR, in_mask: 1n, read_ok: 1 })],
  // active window, as the kernel reports it
  ['tick-active', interruption(T, P, 'tick', { conf: 1n, active: 1n, quiesce: 1n })],
  ['syscall-active', interruption(T, P, 'syscall', { conf: 1n, active: 1n, quiesce: 1n })],
  ['vmstat-active', interruption(T, P, 'vmstat', { conf: 1n, active: 1n, quiesce: 1n })],
  // active, but vmstat not in the quiesce mask: a plain violation, no quiesce failure
  ['vmstat-active-noq', interruption(T, P, 'vmstat', { conf: 1n, active: 1n, quiesce: 0n })],
  // inactive window: the kernel says configured, not active (the prctl view still says active)
  ['tick-inactive', interruption(T, P, 'tick', { conf: 1n, active: 0n, quiesce: 1n })],
  ['vmstat-inactive', interruption(T, P, 'vmstat', { conf: 1n, active: 0n, quiesce: 1n })],
  // masks not read (e.g. no task_isol_info object yet): the prctl view applies
  ['tick-prctl', interruption(T, P, 'tick')],
  // another thread of the declared process: kernel has no state -> the declaration applies
  ['tick-declared-kernel0', interruption(T + 1, P, 'tick', {})],
  ['syscall-declared', interruption(T + 1, P, 'syscall')],
  // an unrelated task: kernel says no state
  ['tick-other', interruption(900, 900, 'tick', {})],
  // a thread T creates inherits conf|active (tracker; no kernel masks on its record)
  ['fork', fork(T, P, 210)],
  ['tick-inherited', interruption(210, P, 'tick')],
];

function run() {
  const raws: RawRecord[] = stream.map(([, b]) => decodeRecord(b));
  const start = {
    type: 'start' as const, version: 'test', kernel: '6.x-task-isol-v12', arch: 'x86_64', watched_cpus: [3], isolated: [3], nohz_full: [3],
    pr_isol: 'kernel' as const, probes: { attached: [], missing: [] }, ts_ns: 0,
  };
  const text = [
    // declared as run declares its command (no victim filter, unlike record --pid)
    encodeLine({ type: 'recording', abi: IW.IW_ABI_VERSION, start, declared_pids: [], arch: 'x86_64' }),
    encodeLine({ type: 'declare', ts_ns: 0, pid: P, children: true }),
    ...raws.map((r) => encodeLine({ type: 'raw', ...r })),
    encodeLine({ type: 'end', duration_s: 1, lost: 0, symbols: SYMBOLS }),
  ].join('\n');
  return replay(text, 'synthetic-kernel-isol.rec.ndjson');
}

describe('engine on a recorded stream with kernel PR_ISOL masks', () => {
  const r = run();
  const labels = stream.map(([l]) => l).filter((l) => l !== 'fork');
  const isolRecs = r.records.filter((x): x is IsolRecord => x.type === 'isol');
  const ints = r.records.filter((x): x is InterruptionRecord => x.type === 'interruption');
  const by = Object.fromEntries(labels.filter((l) => !['cfg', 'inherit', 'activate'].includes(l)).map((l, i) => [l, ints[i]]));

  it('decodes every record through the generated layout; fork records yield no output', () => {
    expect(isolRecs.map((x) => x.meaning)).toEqual(['configured quiesce(vmstats); not active until PR_ISOL_ACTIVATE_SET', 'set inheritance across fork/clone: conf|active', 'activated quiesce(vmstats)']);
    expect(ints).toHaveLength(labels.length - 3);
  });

  it('active window (kernel): source kernel over prctl and declared; a tick is a violation', () => {
    expect(by['tick-active'].isol).toEqual({ state: 'active', source: 'kernel', active_mask: '0x1', quiesce_mask: '0x1', conf_mask: '0x1' });
    expect(by['tick-active'].violation).toBe(true);
  });

  it("the task's own syscall inside the active window is shown as such, not a violation", () => {
    expect(by['syscall-active']).toMatchObject({ class: 'syscall', cause: { self: true }, violation: false, note: 'own syscall: the kernel quiesces on return by design' });
  });

  it('vmstat_update with ISOL_F_QUIESCE_VMSTATS active is a quiesce failure with the mlockall() hint', () => {
    const v = by['vmstat-active'];
    expect(v).toMatchObject({ class: 'workqueue', kind: 'vmstat_update', func: 'vmstat_update', violation: true });
    expect(v.note).toMatch(/^quiesce failure: vmstat_update ran on a task with ISOL_F_QUIESCE_VMSTATS active; call mlockall\(MCL_CURRENT\|MCL_FUTURE\)/);
    expect(by['vmstat-active-noq']).toMatchObject({ violation: true });
    expect(by['vmstat-active-noq'].note).toBeUndefined();
  });

  it('inactive window (kernel): counted, never a violation, even where the prctl view says active', () => {
    for (const l of ['tick-inactive', 'vmstat-inactive']) {
      expect(by[l].isol, l).toMatchObject({ state: 'inactive', source: 'kernel', active_mask: '0x0' });
      expect(by[l].violation, l).toBe(false);
      expect(by[l].note, l).toBeUndefined();
    }
  });

  it('no kernel masks on the record: the observed prctl state applies', () => {
    expect(by['tick-prctl'].isol).toMatchObject({ state: 'active', source: 'prctl' });
    expect(by['tick-prctl'].violation).toBe(true);
  });

  it('declared: kernel masks all zero fall back to the declaration; without the ABI quiesce, own syscalls count', () => {
    expect(by['tick-declared-kernel0']).toMatchObject({ isol: { state: 'declared', source: 'declared' }, violation: true });
    expect(by['syscall-declared']).toMatchObject({ isol: { state: 'declared', source: 'declared' }, violation: true, note: 'own syscall while declared isolated (no PR_ISOL quiesce on return)' });
    expect(by['tick-other']).toMatchObject({ isol: { state: 'none', source: 'kernel' }, violation: false });
  });

  it('a thread created by the active task inherits (conf|active) through the fork record', () => {
    expect(by['tick-inherited']).toMatchObject({ isol: { state: 'active', source: 'prctl', active_mask: '0x1', quiesce_mask: '0x1' }, violation: true });
  });

  it('summary: every interruption counted, violations only for active or declared', () => {
    const expected = ints.filter((i) => i.violation).length;
    expect(expected).toBe(7); // tick-active, vmstat-active, vmstat-active-noq, tick-prctl, tick-declared-kernel0, syscall-declared, tick-inherited
    expect(r.summary.violations).toBe(expected);
    const t = r.summary.tasks.find((x) => x.tid === T)!;
    expect(t).toMatchObject({ interruptions: 7, violations: 4 });
    expect(r.summary.cpus['3'].by_class).toEqual({ timer: 6, syscall: 2, workqueue: 3 });
  });
});
