// IsolTracker: configure -> activate -> inactive, one-shot, inheritance,
// declarations, and the kernel > prctl > declared > none priority.
import { describe, expect, it } from 'vitest';
import { decodeIsolCall, type IsolCall } from '../../src/isol/decode.js';
import { IsolTracker, type KernelIsolMasks } from '../../src/isol/state.js';

const PTR = 0x7ffd_0000_1000n;

function raw(p: Partial<IsolCall> & { option: number }): IsolCall {
  return { ts_ns: 0n, cpu: 3, arg2: 0n, arg3: 0n, arg4: 0n, arg5: 0n, result: 0n, in_mask: 0n, out_mask: 0n, ctl: [0n, 0n], pid: 100, tid: 101, read_ok: 0, comm: 'app', ...p };
}

/** The documented calls, decoded on an ABI kernel, as the tracker receives them. */
function abi(t: IsolTracker, p: Partial<IsolCall> & { option: number }) {
  return decodeIsolCall(raw(p), { prIsol: 'kernel', arch: 'x86_64', quiesceMaskFor: (pid, tid) => t.quiesceMaskFor(pid, tid) });
}
const cfgQuiesce = (t: IsolTracker, mask: bigint, o: Partial<IsolCall> = {}) =>
  abi(t, { option: 65, arg2: 1n, arg3: 1n, arg4: PTR, ctl: [0n, mask], read_ok: 5, ...o });
const cfgInherit = (t: IsolTracker, mask: bigint, o: Partial<IsolCall> = {}) =>
  abi(t, { option: 65, arg2: 2n, arg4: PTR, in_mask: mask, ctl: [mask, 0n], read_ok: 5, ...o });
const activate = (t: IsolTracker, mask: bigint, o: Partial<IsolCall> = {}) => abi(t, { option: 67, arg2: PTR, in_mask: mask, read_ok: 1, ...o });

describe('IsolTracker from prctls', () => {
  it('configured -> active -> inactive', () => {
    const t = new IsolTracker({ prIsol: 'kernel' });
    expect(t.isolInfoFor(101, 100)).toEqual({ state: 'none', source: 'none' });

    expect(t.apply(cfgQuiesce(t, 1n, { ts_ns: 10n }))).toBe(true);
    expect(t.stateOf(101)).toMatchObject({ phase: 'configured', conf_mask: 1n, quiesce_mask: 1n, active_mask: 0n });
    expect(t.isolInfoFor(101, 100)).toEqual({ state: 'inactive', source: 'prctl', active_mask: '0x0', quiesce_mask: '0x1', conf_mask: '0x1' });

    const act = activate(t, 1n, { ts_ns: 20n });
    expect(act.meaning).toBe('activated quiesce(vmstats)');
    t.apply(act);
    expect(t.stateOf(101)).toMatchObject({ phase: 'active', since_ns: 20 });
    expect(t.isolInfoFor(101, 100)).toMatchObject({ state: 'active', source: 'prctl', active_mask: '0x1', quiesce_mask: '0x1' });

    t.apply(activate(t, 0n, { ts_ns: 30n }));
    expect(t.stateOf(101)).toMatchObject({ phase: 'inactive', since_ns: 30, active_mask: 0n });
    expect(t.isolInfoFor(101, 100).state).toBe('inactive');
  });

  it('state is per thread: another thread of the process is not isolated', () => {
    const t = new IsolTracker({ prIsol: 'kernel' });
    t.apply(cfgQuiesce(t, 1n));
    t.apply(activate(t, 1n));
    expect(t.isolInfoFor(102, 100).state).toBe('none');
  });

  it('one-shot applies on return from that call only: recorded, not added to the quiesce mask', () => {
    const t = new IsolTracker({ prIsol: 'kernel' });
    t.apply(cfgQuiesce(t, 0n));
    t.apply(abi(t, { option: 67, arg2: PTR, arg3: PTR + 0x40n, in_mask: 1n, ctl: [0n, 1n], read_ok: 5, ts_ns: 50n }));
    const s = t.stateOf(101)!;
    expect(s.phase).toBe('active');
    expect(s.quiesce_mask).toBe(0n);
    expect(s.last_oneshot).toEqual({ mask: 1n, ts_ns: 50 });
    expect(t.isolInfoFor(101, 100).quiesce_mask).toBe('0x0');
  });

  it('failed calls and stock-kernel calls change nothing', () => {
    const t = new IsolTracker({ prIsol: 'kernel' });
    expect(t.apply(cfgQuiesce(t, 1n, { result: -22n }))).toBe(false);
    expect(t.stateOf(101)).toBeUndefined();

    const stock = new IsolTracker({ prIsol: 'absent' });
    const rec = decodeIsolCall(raw({ option: 67, arg2: PTR, in_mask: 1n, read_ok: 1 }), { prIsol: 'absent', arch: 'x86_64' });
    expect(rec.result).toBe(0); // KSM was enabled, not isolation
    expect(stock.apply(rec)).toBe(false);
    expect(stock.isolInfoFor(101, 100).state).toBe('none');
    // A stock record fed to a tracker that (wrongly) thinks the ABI exists is still ignored.
    expect(new IsolTracker({ prIsol: 'kernel' }).apply(rec)).toBe(false);
  });

  it('ACTIVATE_GET resynchronises a task whose state we missed', () => {
    const t = new IsolTracker({ prIsol: 'kernel' });
    t.apply(abi(t, { option: 66, arg2: PTR, out_mask: 1n, read_ok: 2 }));
    expect(t.isolInfoFor(101, 100).state).toBe('active');
  });
});

describe('inheritance across fork/clone', () => {
  function parent(inherit: bigint) {
    const t = new IsolTracker({ prIsol: 'kernel', now: () => 999 });
    t.apply(cfgQuiesce(t, 1n));
    if (inherit) t.apply(cfgInherit(t, inherit));
    t.apply(activate(t, 1n));
    return t;
  }

  it('no inherit mask: the child starts with nothing', () => {
    const t = parent(0n);
    t.onTaskEvent({ type: 'fork', parent_tid: 101, child_tid: 200, child_pid: 200 });
    expect(t.stateOf(200)).toBeUndefined();
    expect(t.isolInfoFor(200, 200).state).toBe('none');
  });

  it('ISOL_INHERIT_CONF copies the configuration, not the active state', () => {
    const t = parent(1n);
    t.onTaskEvent({ type: 'fork', parent_tid: 101, child_tid: 200, child_pid: 200 });
    expect(t.stateOf(200)).toMatchObject({ phase: 'configured', conf_mask: 1n, quiesce_mask: 1n, active_mask: 0n, via: 'inherited', since_ns: 999, pid: 200 });
    expect(t.isolInfoFor(200, 200).state).toBe('inactive');
  });

  it('CONF|ACTIVE copies the active state too (threads and processes alike)', () => {
    const t = parent(3n);
    t.onTaskEvent({ type: 'fork', parent_tid: 101, child_tid: 102, child_pid: 100, ts_ns: 5 });
    expect(t.stateOf(102)).toMatchObject({ phase: 'active', active_mask: 1n, quiesce_mask: 1n, inherit_mask: 3, since_ns: 5 });
    expect(t.isolInfoFor(102, 100).state).toBe('active');
  });

  it('ACTIVE without CONF copies nothing (ACTIVE requires CONF)', () => {
    const t = parent(2n);
    t.onTaskEvent({ type: 'fork', parent_tid: 101, child_tid: 200, child_pid: 200 });
    expect(t.stateOf(200)).toBeUndefined();
  });

  it('exit forgets the task', () => {
    const t = parent(0n);
    t.onTaskEvent({ type: 'exit', tid: 101 });
    expect(t.isolInfoFor(101, 100).state).toBe('none');
  });
});

describe('declared isolation and priority', () => {
  const kernel = (p: Partial<KernelIsolMasks>): KernelIsolMasks => ({ conf: 0n, active: 0n, quiesce: 0n, oneshot: 0n, inherit: 0, fromKernel: true, ...p });

  it('declare by pid covers every thread; by tid only that thread; undeclare', () => {
    const t = new IsolTracker({ prIsol: 'absent' });
    t.declare({ pid: 100 });
    expect(t.isolInfoFor(101, 100)).toEqual({ state: 'declared', source: 'declared' });
    expect(t.isolInfoFor(300, 300).state).toBe('none');
    t.declare({ tid: 300 });
    expect(t.isolInfoFor(300, 300).state).toBe('declared');
    t.undeclare({ pid: 100 });
    expect(t.isolInfoFor(101, 100).state).toBe('none');
  });

  it('run with children: processes forked by the declared process are declared; without: not', () => {
    const t = new IsolTracker({ prIsol: 'absent' });
    t.declare({ pid: 100 }, { children: true });
    t.declare({ pid: 500 });
    t.onTaskEvent({ type: 'fork', parent_tid: 101, parent_pid: 100, child_tid: 400, child_pid: 400 });
    t.onTaskEvent({ type: 'fork', parent_tid: 500, parent_pid: 500, child_tid: 600, child_pid: 600 });
    expect(t.isolInfoFor(400, 400).state).toBe('declared');
    expect(t.isolInfoFor(600, 600).state).toBe('none');
  });

  it('a declaration with children also covers processes forked before it (run declares after the warm-up), transitively; not threads-only or unrelated ones', () => {
    const t = new IsolTracker({ prIsol: 'absent' });
    t.onTaskEvent({ type: 'fork', parent_tid: 100, parent_pid: 100, child_tid: 400, child_pid: 400 });
    t.onTaskEvent({ type: 'fork', parent_tid: 400, parent_pid: 400, child_tid: 410, child_pid: 410 });
    t.onTaskEvent({ type: 'fork', parent_tid: 100, parent_pid: 100, child_tid: 102, child_pid: 100 }); // a thread
    t.onTaskEvent({ type: 'fork', parent_tid: 700, parent_pid: 700, child_tid: 800, child_pid: 800 });
    t.declare({ pid: 100 }, { children: true, ts_ns: 5 });
    expect(t.declarationFor(400, 400)).toEqual({ since_ns: 5, children: true });
    expect(t.isolInfoFor(410, 410).state).toBe('declared');
    expect(t.isolInfoFor(102, 100).state).toBe('declared'); // by pid
    expect(t.isolInfoFor(800, 800).state).toBe('none');
    // without children: only the process itself
    const u = new IsolTracker({ prIsol: 'absent' });
    u.onTaskEvent({ type: 'fork', parent_tid: 100, parent_pid: 100, child_tid: 400, child_pid: 400 });
    u.declare({ pid: 100 });
    expect(u.isolInfoFor(400, 400).state).toBe('none');
  });

  it('exit: a thread exit keeps the process declared, the last one (group_dead) ends the declaration; pid reuse starts clean', () => {
    const t = new IsolTracker({ prIsol: 'absent' });
    t.declare({ pid: 100 }, { children: true });
    t.onTaskEvent({ type: 'fork', parent_tid: 100, parent_pid: 100, child_tid: 400, child_pid: 400 });
    t.onTaskEvent({ type: 'exit', tid: 102, pid: 100 });
    expect(t.isDeclared(100, 100)).toBe(true);
    t.onTaskEvent({ type: 'exit', tid: 400, pid: 400, group_dead: true });
    expect(t.isDeclared(400, 400)).toBe(false);
    t.onTaskEvent({ type: 'exit', tid: 100, pid: 100, group_dead: true });
    expect(t.isDeclared(100, 100)).toBe(false);
    // a later, unrelated process with a reused pid forked by someone else is not covered
    t.onTaskEvent({ type: 'fork', parent_tid: 1, parent_pid: 1, child_tid: 400, child_pid: 400 });
    expect(t.isDeclared(400, 400)).toBe(false);
  });

  it('kernel > prctl > declared > none', () => {
    const t = new IsolTracker({ prIsol: 'kernel' });
    t.declare({ pid: 100 });
    expect(t.isolInfoFor(101, 100).source).toBe('declared');

    t.apply(cfgQuiesce(t, 1n));
    t.apply(activate(t, 1n));
    expect(t.isolInfoFor(101, 100)).toMatchObject({ state: 'active', source: 'prctl' });

    // The kernel says configured but inactive: it wins over the prctl view.
    expect(t.isolInfoFor(101, 100, kernel({ conf: 1n, quiesce: 1n }))).toEqual({
      state: 'inactive',
      source: 'kernel',
      active_mask: '0x0',
      quiesce_mask: '0x1',
      conf_mask: '0x1',
    });
    expect(t.isolInfoFor(101, 100, kernel({ conf: 1n, active: 1n, quiesce: 1n })).state).toBe('active');
    // Kernel says no PR_ISOL state: observed prctls are stale, the declaration still counts.
    expect(t.isolInfoFor(101, 100, kernel({}))).toEqual({ state: 'declared', source: 'declared' });
    expect(t.isolInfoFor(999, 999, kernel({}))).toEqual({ state: 'none', source: 'kernel' });
    // Masks not really read (flag off) are ignored.
    expect(t.isolInfoFor(101, 100, kernel({ active: 1n, conf: 1n, fromKernel: false })).source).toBe('prctl');
  });

  it('declaration timestamps come from the injected clock', () => {
    let now = 42;
    const t = new IsolTracker({ prIsol: 'absent', now: () => now });
    t.declare({ pid: 1 });
    now = 50;
    t.declare({ pid: 2 }, { ts_ns: 7 });
    expect(t.declarationFor(1, 1)).toEqual({ since_ns: 42, children: false });
    expect(t.declarationFor(9, 2)).toEqual({ since_ns: 7, children: false });
    expect(t.declarationFor(3, 3)).toBeUndefined();
  });
});
