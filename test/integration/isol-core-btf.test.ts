// Root, real kernel: the CO-RE path that reads a task's PR_ISOL state
// (bpf/core_fixes.bpf.h iw_read_isol) cannot run for real here: this stock
// kernel has no task_isol_info / isol_info. It is exercised by loading the
// unchanged build/ARCH/isolwatch.bpf.o with libbpf's btf_custom_path pointing at
// this kernel's own BTF plus the fields (test/integration/isol-btf-rewrite.ts).
//
// The added pointer member is placed at the offset of a real task_struct
// pointer (v12 task_isol_info over group_leader, v5 isol_info over
// real_parent), and the added struct's members over that task's pid/tgid and
// comm. So the programs really take the field-exists branch, really
// dereference the pointer with the relocated offsets, and a real syscall
// interruption of test/workloads/syscalls carries values this test knows:
//   conf_mask = oneshot_mask = (tgid << 32) | pid of the pointee task,
//   active_mask / quiesce_mask = bytes 0..7 / 8..15 of its comm, inherit_mask = comm[0].
// With v12 the pointee is the victim thread's group leader (the workload's
// main thread, not the victim itself); with v5 it is the process that spawned
// the workload (this test process). The stock BTF must give no state at all.
//
// Not exercised: a kernel really carrying the series (its own layout of the
// struct, its own values), /proc/<pid>/task_isolation, kernels where these
// fields are not plain pointers.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/correlate/engine.js';
import type { RawInterruption, RawRecord } from '../../src/contract/decode.js';
import { IW } from '../../src/contract/layout.generated.js';
import { IsolTracker } from '../../src/isol/state.js';
import { onLibbpfLog } from '../../src/libbpf/index.js';
import { Session } from '../../src/live/session.js';
import { symbolsFromTable } from '../../src/system/kallsyms.js';
import { requireRoot, startWorkload } from './harness.js';
import { addIsolFields, findStruct, memberOffset, parseBtf, type IsolFieldSpec } from './isol-btf-rewrite.js';

const CPU = 1;
const N = 40;
const GETPPID = 110;

const raw = readFileSync('/sys/kernel/btf/vmlinux');
const task = findStruct(parseBtf(raw), 'task_struct');
const OFF = {
  pid: memberOffset(task, 'pid'),
  tgid: memberOffset(task, 'tgid'),
  comm: memberOffset(task, 'comm'),
  group_leader: memberOffset(task, 'group_leader'),
  real_parent: memberOffset(task, 'real_parent'),
  journal_info: memberOffset(task, 'journal_info'),
};
const aliasMembers = { conf_mask: OFF.pid, active_mask: OFF.comm, quiesce_mask: OFF.comm + 8, oneshot_mask: OFF.pid, inherit_mask: OFF.comm };
const spec = (flavor: 'v12' | 'v5', taskOffset: number): IsolFieldSpec => ({ flavor, taskOffset, memberOffsets: aliasMembers, size: task.size });

interface Outcome {
  /** getppid interruptions of the workload's worker thread */
  recs: RawInterruption[];
  /** libbpf's CO-RE relocation log lines that name the isol fields */
  relo: string[];
  pid: number;
  tid: number;
}

const dir = mkdtempSync(join(tmpdir(), 'iw-core-btf-'));
function btfFile(name: string, specs: IsolFieldSpec[]): string {
  const f = join(dir, name);
  writeFileSync(f, addIsolFields(raw, specs));
  return f;
}

/** Loads the real object (CO-RE against btfCustomPath, or the kernel's own BTF), runs N getppid on CPU 1. */
async function observe(btfCustomPath?: string): Promise<Outcome> {
  const log: string[] = [];
  const off = onLibbpfLog((m) => log.push(m.text));
  let session: Session;
  try {
    // only the workload's syscalls are recorded: a busy neighbour on CPU 1 cannot flood the ring
    session = Session.open({ cpus: [CPU], probes: new Set(['core', 'syscalls']), btfCustomPath, syscallsTrackedOnly: true });
  } finally {
    off();
  }
  const all: RawRecord[] = [];
  let pid = 0;
  let tid = 0;
  let from = 0;
  try {
    const w = await startWorkload('syscalls', ['--cpu', String(CPU), '--count', String(N)]);
    pid = Number(w.ready.pid);
    tid = Number(w.ready.tid);
    session.trackProcess(pid);
    const done = await w.go();
    from = w.goNs!; // the warm-up call before ready is not the window's
    expect(Number(done.calls)).toBe(N);
    await w.finish();
    await new Promise((r) => setTimeout(r, 200));
    while (session.drain((r) => all.push(...r)) > 0);
  } finally {
    session.close();
  }
  const recs = all.filter(
    (r): r is RawInterruption => r.rec === 'interruption' && r.victim_tid === tid && Number(r.ts_ns) >= from && r.chain[0]?.class === IW.IW_CLASS_SYSCALL && r.chain[0].kind === GETPPID,
  );
  const relo = log.filter((l) => /isol_info|task_isol_info|isol_v12|isol_v5|___iw/.test(l)).map((l) => l.trim());
  return { recs, relo, pid, tid };
}

const u64le = (s: string, from: number) => {
  const b = Buffer.alloc(16);
  b.write(s, 'latin1');
  return b.readBigUInt64LE(from);
};
const pidWord = (tgid: number, pid: number) => (BigInt(tgid) << 32n) | BigInt(pid);
const readComm = (pid: number, tid: number) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();

const results: Record<string, Outcome> = {};

beforeAll(async () => {
  requireRoot();
  expect(OFF.tgid, 'task_struct.tgid follows pid (the aliases read both in one u64)').toBe(OFF.pid + 4);
  results.stock = await observe();
  results.v12 = await observe(btfFile('v12', [spec('v12', OFF.group_leader)]));
  results.v5 = await observe(btfFile('v5', [spec('v5', OFF.real_parent)]));
  results.both = await observe(btfFile('both', [spec('v12', OFF.group_leader), spec('v5', OFF.real_parent)]));
  results.v12null = await observe(btfFile('v12null', [spec('v12', OFF.journal_info)]));
  if (process.env.ISOLWATCH_SHOW_RELO) for (const [k, r] of Object.entries(results)) console.log(k, r.relo.join('\n'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CO-RE relocation of the PR_ISOL task state against a custom BTF (btf_custom_path)', () => {
  it('every run saw exactly the workload\'s N getppid calls', () => {
    for (const [name, r] of Object.entries(results)) expect(r.recs.length, name).toBe(N);
  });

  it('stock BTF: the fields do not exist, nothing is read (flag off, masks zero)', () => {
    for (const r of results.stock.recs) {
      expect(r.flags & IW.IW_F_ISOL_KERNEL).toBe(0);
      expect([r.isol_conf_mask, r.isol_active_mask, r.isol_quiesce_mask, r.isol_oneshot_mask, r.isol_inherit_mask]).toEqual([0n, 0n, 0n, 0n, 0]);
    }
  });

  it('v12 (task_struct.task_isol_info): the branch is taken and the relocated offsets read the group leader\'s pid word and comm', () => {
    const { recs, pid, tid } = results.v12;
    expect(tid).not.toBe(pid); // the victim is a worker thread: the values come through the pointer
    const comm = readCommOfWorkload();
    for (const r of recs) {
      expect(r.flags & IW.IW_F_ISOL_KERNEL).toBe(IW.IW_F_ISOL_KERNEL);
      expect(r.isol_conf_mask).toBe(pidWord(pid, pid));
      expect(r.isol_oneshot_mask).toBe(pidWord(pid, pid));
      expect(r.isol_active_mask).toBe(u64le(comm, 0));
      expect(r.isol_quiesce_mask).toBe(u64le(comm, 8));
      expect(r.isol_inherit_mask).toBe(comm.charCodeAt(0));
    }
  });

  it('v5 (task_struct.isol_info): the second flavor is taken when only it exists; it reads this test process (real_parent)', () => {
    const r0 = results.v5.recs[0];
    const tgid = Number(r0.isol_conf_mask >> 32n);
    const ptid = Number(r0.isol_conf_mask & 0xffffffffn);
    expect(tgid).toBe(process.pid);
    expect(readdirSync(`/proc/${process.pid}/task`).map(Number)).toContain(ptid);
    const comm = readComm(process.pid, ptid);
    for (const r of results.v5.recs) {
      expect(r.flags & IW.IW_F_ISOL_KERNEL).toBe(IW.IW_F_ISOL_KERNEL);
      expect(r.isol_conf_mask).toBe(pidWord(tgid, ptid));
      expect(r.isol_active_mask).toBe(u64le(comm, 0));
      expect(r.isol_inherit_mask).toBe(comm.charCodeAt(0));
    }
  });

  it('both fields present: v12 wins', () => {
    const { recs, pid } = results.both;
    for (const r of recs) expect(r.isol_conf_mask).toBe(pidWord(pid, pid));
  });

  it('v12 field present but the task has no isolation object (NULL pointer): nothing read, flag off', () => {
    for (const r of results.v12null.recs) {
      expect(r.flags & IW.IW_F_ISOL_KERNEL).toBe(0);
      expect(r.isol_active_mask).toBe(0n);
    }
  });

  it('libbpf logged the relocations against the custom BTF (the chosen offsets), and none against the stock one', () => {
    const v12 = results.v12.relo.join('\n');
    expect(v12).toMatch(new RegExp(`task_struct\\.task_isol_info \\([^)]*@ offset ${OFF.group_leader}\\)`));
    expect(v12).toMatch(new RegExp(`task_isol_info\\.active_mask \\([^)]*@ offset ${OFF.comm}\\)`));
    const v5 = results.v5.relo.join('\n');
    expect(v5).toMatch(new RegExp(`task_struct\\.isol_info \\([^)]*@ offset ${OFF.real_parent}\\)`));
    // stock: the relocations were processed (field_exists asked) and matched nothing
    expect(results.stock.relo.join('\n')).toMatch(/<field_exists> \[\d+\] struct task_struct___isol_v12\.task_isol_info/);
    expect(results.stock.relo.join('\n')).not.toMatch(/task_struct\.(task_isol_info|isol_info) \(/);
  });

  it('the engine turns the kernel-read masks into isol.source = kernel, active, and the own syscall is not a violation', () => {
    const tracker = new IsolTracker({ prIsol: 'kernel' });
    tracker.declare({ pid: results.v12.pid }); // kernel state is preferred over a declaration
    const engine = new Engine({ symbols: symbolsFromTable({}), tracker, prIsol: 'kernel', arch: 'x86_64' });
    const out = engine.ingest(results.v12.recs[0]);
    expect(out).toMatchObject({ type: 'interruption', class: 'syscall', isol: { state: 'active', source: 'kernel' }, violation: false });
    expect(out && 'note' in out ? out.note : '').toMatch(/own syscall/);
    const stock = engine.ingest(results.stock.recs[0]);
    expect(stock).toMatchObject({ isol: { state: 'none', source: 'none' } }); // not the declared pid: a different run's process
  });
});

function readCommOfWorkload(): string {
  return 'syscalls'; // test/workloads/syscalls: the process (group leader) comm is its file name
}
