// `isolwatch demo`: a spinner on the watched CPU and labelled disturbers
// from a housekeeping CPU (test/workloads/disturb), so a newcomer's first
// live view shows real causes being attributed. Stops them all on quit.
//
// The disturber reads its stdin until EOF, so it ends with isolwatch however
// isolwatch ends (q, a signal, a crash, even SIGKILL: the pipe closes).
import type { Command } from '../cli-args.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { EnvironmentError } from '../errors.js';
import { demoWorkloadPath } from '../paths.js';
import { housekeepingCpus, readCpuTopology } from '../system/cpus.js';
import { assertCanTrace } from '../system/preflight.js';
import { parseTlbFlushLabel, type TlbFlushMode } from '../system/tlb-flush.js';
import { resolveCpus } from '../live/cpus.js';
import { watch } from './watch.js';

export type DemoOptions = Extract<Command, { cmd: 'demo' }>['opts'];

/** Probe groups the demo attaches unless --probes says otherwise. */
export const DEMO_PROBES = 'default,+syscalls,-faults';

/** The disturbers: IPIs, TLB shootdowns and work from the sender, syscalls of the spinner's own. */
const DEMO_KINDS = 'membarrier,munmap,stat_refresh,syscalls';

/** What each disturber kind does to the watched CPU, as the live view names it. */
function kindEffect(kind: string, flush: TlbFlushMode): string {
  switch (kind) {
    case 'membarrier':
      return 'membarrier -> IPI ipi_mb';
    case 'munmap':
      // where the hypervisor flushes remote TLBs, no IPI reaches the guest's CPU (start.tlb_flush)
      return flush === 'hypervisor' ? 'munmap -> TLB flush via hypervisor (no IPI)' : 'munmap -> IPI flush_tlb_func';
    case 'stat_refresh':
      return 'stat_refresh -> workqueue refresh_vm_stats';
    default:
      return kind;
  }
}

export interface DisturbReady {
  pid: number;
  senderTid: number;
  spinnerTid: number;
  targetCpu: number;
  fromCpu: number;
  kinds: string[];
  /** kinds the workload had to switch off, with the error, e.g. "stat_refresh: EACCES" */
  errors: string[];
}

/** Parses the workload's "ready ..." line (and any earlier "disturb kind=K error=E" lines). */
export function parseDisturbReady(ready: string, earlier: string[] = []): DisturbReady {
  const kv = (line: string): Record<string, string> =>
    Object.fromEntries(line.split(/\s+/).slice(1).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const r = kv(ready);
  const errors = earlier.filter((l) => / error=/.test(l)).map((l) => kv(l)).map((e) => `${e.kind}: ${e.error}`);
  return {
    pid: Number(r.pid),
    senderTid: Number(r.sender_tid),
    spinnerTid: Number(r.spinner_tid),
    targetCpu: Number(r.target_cpu),
    fromCpu: Number(r.from_cpu),
    kinds: r.kinds && r.kinds !== 'none' ? r.kinds.split(',') : [],
    errors,
  };
}

/** The header notes that label what the demo started (80 columns each); `flush`: start.tlb_flush's mode. */
export function demoNotes(d: DisturbReady, flush: TlbFlushMode = 'ipi'): string[] {
  const own = d.kinds.includes('syscalls') ? ', 20/s own getppid' : '';
  const effects = d.kinds.filter((k) => k !== 'syscalls').map((k) => kindEffect(k, flush));
  const off = d.errors.length ? ` (off: ${d.errors.join(', ')})` : '';
  if (!effects.length) effects.push('none could start');
  const lines = [`demo: spinner disturb/${d.spinnerTid} on CPU ${d.targetCpu} (declared isolated)${own}`];
  // effects joined by ', ', wrapped at 80 columns, continuation lines indented by two
  let cur = `  disturber disturb/${d.senderTid} on CPU ${d.fromCpu}, 20/s each:`;
  effects.forEach((e, i) => {
    const piece = e + (i < effects.length - 1 ? ',' : off);
    if (cur.length + 1 + piece.length > 80 && cur.trim() !== '') {
      lines.push(cur);
      cur = `  ${piece}`;
    } else cur += ` ${piece}`;
  });
  lines.push(cur);
  return lines;
}

/** Starts the workload and resolves with its ready line; rejects (with its stderr) if it exits first. */
function startDisturb(bin: string, target: number, from: number): Promise<{ child: ChildProcess; ready: DisturbReady; stderr: () => string }> {
  const child = spawn(bin, ['--target-cpu', String(target), '--from-cpu', String(from), '--seconds', '0', '--no-wait', '--kinds', DEMO_KINDS], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    let ready = false;
    // Keep reading: the workload writes a line per event and must never block on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (ready) return;
      if (l.startsWith('ready ')) {
        ready = true;
        resolve({ child, ready: parseDisturbReady(l, lines), stderr: () => stderr });
      } else lines.push(l);
    });
    child.on('error', (e) => reject(new EnvironmentError(`demo workload ${bin} could not start: ${e.message}`)));
    child.on('exit', (code, sig) => {
      if (!ready) reject(new EnvironmentError(`demo workload ${bin} exited (${sig ?? code}) before it was ready: ${stderr.trim() || 'no message'}`));
    });
  });
}

/** Ends the workload: EOF on its stdin, then SIGTERM, then SIGKILL; resolves once it has exited. */
async function stopDisturb(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  child.stdin?.end();
  if (await within(1000)) return;
  child.kill('SIGTERM');
  if (await within(1000)) return;
  child.kill('SIGKILL');
  await exited;
}

export async function demo(o: DemoOptions): Promise<number> {
  const bin = demoWorkloadPath();
  if (!existsSync(bin)) throw new EnvironmentError(`demo workload ${bin} is missing: run 'npm run build'`);
  const target = resolveCpus(o.cpus, []).cpus[0];
  const hk = housekeepingCpus(readCpuTopology(), [target]);
  if (!hk.length) throw new EnvironmentError('demo needs a housekeeping CPU besides the watched one');
  assertCanTrace(); // before the workload starts
  const { child, ready, stderr } = await startDisturb(bin, target, hk[0]);
  let quitting = false;
  let early: string | undefined;
  child.once('exit', (code, sig) => {
    if (!quitting) early = sig ?? `exit status ${code}`;
  });
  try {
    // Only the demo's own process is shown: its spinner is the victim, its sender the cause.
    // Syscalls are recorded for the demo's own process only (filtered in BPF for --pid), so a
    // busy neighbour on the CPU cannot crowd the demo's records out of the ring buffer; its
    // spinner takes no page faults, and the faults group has no such filter: left off.
    return await watch({ ...o, cpus: [target], pids: [ready.pid], probes: o.probes ?? DEMO_PROBES, notes: (start) => demoNotes(ready, parseTlbFlushLabel(start.tlb_flush)?.mode) });
  } finally {
    quitting = true;
    await stopDisturb(child);
    if (early) process.stderr.write(`isolwatch demo: the demo workload ended before isolwatch did (${early})\n`);
    const msg = stderr().trim();
    if (msg) process.stderr.write(`isolwatch demo: the workload said: ${msg}\n`);
  }
}
