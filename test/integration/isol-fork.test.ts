// Root, real kernel: fork/clone and exit records (bpf/isolwatch.bpf.c
// handle_task_fork/exit, struct iw_task_event) for tracked tasks, fed to the
// engine's IsolTracker. test/workloads/isol-fork names every task it creates,
// so the records are checked exactly:
//  - declared: the workload's process is tracked the way `--pid` / `run` track
//    it (Session.trackProcess); its children, grandchildren and threads must
//    all be reported, with group_dead on each process's last exit;
//  - observed: the workload issues the documented PR_ISOL_ACTIVATE_SET (on this
//    stock kernel: PR_SET_MEMORY_MERGE, returns 0, in a throwaway process); the
//    BPF side then tracks that thread by itself and reports its descendants.
// Inheritance is then applied by the tracker to the real fork/exit stream: on
// this stock kernel nothing is inherited (the prctl did something else); with
// a simulated ABI-kernel history for the same real tid, the real children
// inherit per inherit_mask and are dropped at their real exits.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/correlate/engine.js';
import type { RawIsolCall, RawRecord, RawTaskEvent } from '../../src/contract/decode.js';
import { IW } from '../../src/contract/layout.generated.js';
import { decodeIsolCall, type IsolCall } from '../../src/isol/decode.js';
import { detectPrIsol } from '../../src/isol/detect.js';
import { IsolTracker } from '../../src/isol/state.js';
import { closeVmlinuxBtf, vmlinuxBtf } from '../../src/libbpf/btf.js';
import { Session, defaultObjectPath } from '../../src/live/session.js';
import { symbolsFromTable } from '../../src/system/kallsyms.js';
import { BIN, requireRoot } from './harness.js';

const CHILDREN = 3;
const THREADS = 2;

interface Run {
  pid: number;
  children: number[];
  grandchildren: number[];
  threads: number[];
  prctl?: { ret: number; errno: number };
  records: RawRecord[];
}

const kv = (l: string) => Object.fromEntries(l.split(' ').slice(1).map((f) => f.split('=') as [string, string]));

/** Starts isol-fork, tracks it (declared) or not, lets it work and exit, and returns every record of its family. */
async function runFamily(probes: string[], args: string[], declare: boolean): Promise<Run> {
  const session = Session.open({ cpus: [1], probes: new Set(probes) });
  const out: Run = { pid: 0, children: [], grandchildren: [], threads: [], records: [] };
  const all: RawRecord[] = [];
  try {
    const proc = spawn(BIN('isol-fork'), args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((res) => proc.on('exit', (c) => res(c)));
    const lines: string[] = [];
    let onDone!: () => void;
    let onReady!: () => void;
    const done = new Promise<void>((res) => (onDone = res));
    const ready = new Promise<void>((res) => (onReady = res));
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      lines.push(l);
      if (l.startsWith('ready')) onReady();
      if (l.startsWith('done')) onDone();
    });
    await Promise.race([ready, exited.then((c) => Promise.reject(new Error(`isol-fork exited (${c}) before ready`)))]);
    out.pid = Number(kv(lines[0]).pid);
    if (declare) session.trackProcess(out.pid);
    proc.stdin!.write('go\n');
    await Promise.race([done, exited.then((c) => Promise.reject(new Error(`isol-fork exited (${c}) before done: ${lines.join('\n')}`)))]);
    proc.stdin!.end();
    expect(await exited).toBe(0);
    for (const l of lines) {
      const f = kv(l);
      if (l.startsWith('child ')) out.children.push(Number(f.pid));
      if (l.startsWith('grandchild ')) out.grandchildren.push(Number(f.pid));
      if (l.startsWith('thread ')) out.threads.push(Number(f.tid));
      if (l.startsWith('prctl ')) out.prctl = { ret: Number(f.ret), errno: Number(f.errno) };
    }
    await new Promise((r) => setTimeout(r, 300));
    while (session.drain((recs) => all.push(...recs)) > 0);
  } finally {
    session.close();
  }
  const family = new Set([out.pid, ...out.children, ...out.grandchildren]);
  out.records = all.filter((r) => (r.rec === 'fork' && (family.has(r.parent_pid) || family.has(r.pid))) || ((r.rec === 'exit' || r.rec === 'isol') && family.has(r.pid)));
  return out;
}

const forks = (r: Run) => r.records.filter((x): x is RawTaskEvent => x.rec === 'fork');
const exits = (r: Run) => r.records.filter((x): x is RawTaskEvent => x.rec === 'exit');
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const { IW_TASK_TRACKED_TID: TID, IW_TASK_TRACKED_PID: PID, IW_TASK_GROUP_DEAD: DEAD } = IW;

function engineFor(tracker: IsolTracker, prIsol: 'kernel' | 'absent'): Engine {
  return new Engine({ symbols: symbolsFromTable({}), tracker, prIsol, arch: 'x86_64' });
}

beforeAll(() => {
  requireRoot();
  expect(existsSync(defaultObjectPath()), `${defaultObjectPath()} is missing: run npm run build`).toBe(true);
  expect(existsSync(BIN('isol-fork')), 'test/workloads/bin/isol-fork is missing: run npm run build').toBe(true);
});
afterAll(() => closeVmlinuxBtf());

describe('declared process: fork/exit of the whole family (probes core,tasks)', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runFamily(['core', 'tasks'], ['--children', String(CHILDREN), '--threads', String(THREADS), '--grandchildren'], true);
  }, 30_000);

  it('reports each fork and clone exactly once, with parent and child', () => {
    expect(run.children).toHaveLength(CHILDREN);
    expect(run.grandchildren).toHaveLength(CHILDREN);
    expect(run.threads).toHaveLength(THREADS);
    const f = forks(run);
    const byMain = f.filter((x) => x.parent_pid === run.pid);
    // new processes: child tgid = child tid, a new pid
    expect(sorted(byMain.filter((x) => x.pid !== run.pid).map((x) => x.pid))).toEqual(sorted(run.children));
    // new threads: same tgid as the parent
    expect(sorted(byMain.filter((x) => x.pid === run.pid).map((x) => x.tid))).toEqual(sorted(run.threads));
    expect(byMain.every((x) => x.parent_tid === run.pid && x.flags === PID)).toBe(true);
    // the children were added to the tracked processes by the BPF side: their forks are reported too
    const byChildren = f.filter((x) => run.children.includes(x.parent_pid));
    expect(sorted(byChildren.map((x) => x.pid))).toEqual(sorted(run.grandchildren));
    expect(byChildren.every((x) => x.flags === PID && x.tid === x.pid)).toBe(true);
    expect(f).toHaveLength(CHILDREN + THREADS + CHILDREN);
  });

  it('reports each exit, group_dead on the last thread of each process', () => {
    const e = exits(run);
    const dead = e.filter((x) => x.flags & DEAD).map((x) => x.pid);
    expect(sorted(dead)).toEqual(sorted([run.pid, ...run.children, ...run.grandchildren]));
    const threadExits = e.filter((x) => !(x.flags & DEAD));
    expect(sorted(threadExits.map((x) => x.tid))).toEqual(sorted(run.threads));
    expect(threadExits.every((x) => x.pid === run.pid)).toBe(true);
    expect(e).toHaveLength(1 + CHILDREN * 2 + THREADS);
    expect(e.every((x) => x.flags & PID && !(x.flags & TID))).toBe(true);
  });

  it('the tracker declares the children and grandchildren of a declared process, and drops them at exit', () => {
    const tracker = new IsolTracker({ prIsol: 'absent' });
    tracker.declare({ pid: run.pid }, { children: true, ts_ns: 0 });
    const engine = engineFor(tracker, 'absent');
    for (const r of forks(run)) expect(engine.ingest(r)).toBeNull();
    for (const p of [...run.children, ...run.grandchildren]) expect(tracker.isDeclared(p, p), `pid ${p}`).toBe(true);
    expect(tracker.isolInfoFor(run.grandchildren[0], run.grandchildren[0])).toEqual({ state: 'declared', source: 'declared' });
    for (const r of exits(run)) engine.ingest(r);
    for (const p of [run.pid, ...run.children, ...run.grandchildren]) expect(tracker.isDeclared(p, p), `pid ${p} after exit`).toBe(false);
  });

  it('a declaration made after the forks (run --warmup) still covers the processes forked before it', () => {
    const tracker = new IsolTracker({ prIsol: 'absent' });
    const engine = engineFor(tracker, 'absent');
    for (const r of forks(run)) engine.ingest(r);
    expect(tracker.isDeclared(run.children[0], run.children[0])).toBe(false);
    tracker.declare({ pid: run.pid }, { children: true, ts_ns: 1 });
    for (const p of [...run.children, ...run.grandchildren]) expect(tracker.isDeclared(p, p), `pid ${p}`).toBe(true);
  });
});

describe('observed prctl: the BPF side follows a thread that made a successful PR_ISOL-numbered SET (probes core,syscalls,tasks)', () => {
  const detection = detectPrIsol({ hasStructField: (s, f) => vmlinuxBtf().hasStructField(s, f) });
  let run: Run;
  beforeAll(async () => {
    // throwaway process: on this stock kernel option 67 enables KSM merging for it
    run = await runFamily(['core', 'syscalls', 'tasks'], ['--children', '2', '--threads', '1', '--grandchildren', '--prctl'], false);
  }, 30_000);

  it('the prctl really returned 0 here, and its record is the one the BPF side keyed the tracking on', () => {
    expect(detection.supported).toBe(false); // this machine: stock kernel
    expect(run.prctl).toEqual({ ret: 0, errno: 0 });
    const isol = run.records.filter((x): x is RawIsolCall => x.rec === 'isol');
    expect(isol.map((x) => [x.option, x.result, x.tid])).toEqual([[67, 0n, run.pid]]);
  });

  it('reports the forks of that thread and of its descendants (tracked by tid, not declared)', () => {
    const f = forks(run);
    expect(sorted(f.filter((x) => x.parent_tid === run.pid && x.pid !== run.pid).map((x) => x.pid))).toEqual(sorted(run.children));
    expect(sorted(f.filter((x) => x.parent_tid === run.pid && x.pid === run.pid).map((x) => x.tid))).toEqual(sorted(run.threads));
    expect(sorted(f.filter((x) => run.children.includes(x.parent_tid)).map((x) => x.pid))).toEqual(sorted(run.grandchildren));
    expect(f).toHaveLength(2 + 1 + 2);
    expect(f.every((x) => x.flags === TID)).toBe(true);
    const e = exits(run);
    expect(sorted(e.map((x) => x.tid))).toEqual(sorted([run.pid, ...run.children, ...run.grandchildren, ...run.threads]));
    expect(e.every((x) => x.flags & TID && !(x.flags & PID))).toBe(true);
  });

  it('on this stock kernel the tracker gives nobody PR_ISOL state: the call was PR_SET_MEMORY_MERGE', () => {
    const tracker = new IsolTracker({ prIsol: 'absent' });
    const engine = engineFor(tracker, 'absent');
    const outs = run.records.filter((r) => r.rec !== 'exit').map((r) => engine.ingest(r));
    expect(outs.find((o) => o?.type === 'isol')).toMatchObject({ op: 'PR_ISOL_ACTIVATE_SET', warning: true, args: { kernel_op: 'PR_SET_MEMORY_MERGE' } });
    for (const t of [run.pid, ...run.children, ...run.threads, ...run.grandchildren]) expect(tracker.stateOf(t)).toBeUndefined();
  });

  it('with a simulated ABI-kernel history for the same real thread, the real children inherit per inherit_mask and are dropped at their real exits', () => {
    const tracker = new IsolTracker({ prIsol: 'kernel' });
    const engine = engineFor(tracker, 'kernel');
    const call = (option: number, a: Partial<IsolCall>): IsolCall => ({
      ts_ns: 1n, cpu: 0, arg2: 0n, arg3: 0n, arg4: 0n, arg5: 0n, result: 0n, in_mask: 0n, out_mask: 0n, ctl: [0n, 0n],
      pid: run.pid, tid: run.pid, option, read_ok: 0, comm: 'isol-fork', ...a,
    });
    // CFG_SET(I_CFG_FEAT, ISOL_F_QUIESCE, {0, vmstats}); CFG_SET(I_CFG_INHERIT, 0, {conf|active}); ACTIVATE_SET(&quiesce)
    for (const c of [
      call(65, { arg2: 1n, arg3: 1n, arg4: 0x1000n, ctl: [0n, 1n], in_mask: 0n, read_ok: 5 }),
      call(65, { arg2: 2n, arg4: 0x1000n, ctl: [3n, 0n], in_mask: 3n, read_ok: 5 }),
      call(67, { arg2: 0x1000n, in_mask: 1n, read_ok: 1 }),
    ]) tracker.apply(decodeIsolCall(c, { prIsol: 'kernel', arch: 'x86_64' }));
    expect(tracker.stateOf(run.pid)).toMatchObject({ phase: 'active', inherit_mask: 3 });
    for (const r of forks(run)) engine.ingest(r);
    for (const t of [...run.children, ...run.threads, ...run.grandchildren]) {
      expect(tracker.stateOf(t), `tid ${t}`).toMatchObject({ phase: 'active', via: 'inherited', active_mask: 1n, quiesce_mask: 1n, conf_mask: 1n });
      expect(tracker.isolInfoFor(t, t)).toMatchObject({ state: 'active', source: 'prctl' });
    }
    for (const r of exits(run)) engine.ingest(r);
    for (const t of [run.pid, ...run.children, ...run.threads, ...run.grandchildren]) expect(tracker.stateOf(t), `tid ${t} after exit`).toBeUndefined();
  });
});
