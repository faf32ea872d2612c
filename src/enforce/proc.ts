// What enforcement needs to know about a live process before signalling it,
// read from /proc (root path injectable for tests).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** PF_KTHREAD from include/linux/sched.h: the task is a kernel thread. */
export const PF_KTHREAD = 0x00200000;

export interface ProcFacts {
  exists: boolean;
  kthread: boolean;
  comm?: string;
  /** Process state letter from /proc/PID/stat (Z = zombie). */
  state?: string;
  /** cgroup v2 path from /proc/PID/cgroup ("0::/path"); undefined when unknown. */
  cgroup?: string;
}

/** Parses /proc/PID/stat: comm may hold spaces and parentheses, so split at the last ')'. */
export function parseProcStat(text: string): { comm: string; state: string; flags: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); flags is field 9.
  const flags = Number(rest[6]);
  if (rest.length < 7 || !Number.isFinite(flags)) return undefined;
  return { comm: text.slice(open + 1, close), state: rest[0], flags };
}

export function parseProcCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3).trim() || '/';
  return undefined;
}

export function readProcFacts(pid: number, procRoot = '/proc'): ProcFacts {
  let stat: ReturnType<typeof parseProcStat>;
  try {
    stat = parseProcStat(readFileSync(join(procRoot, String(pid), 'stat'), 'utf8'));
  } catch {
    return { exists: false, kthread: false };
  }
  if (!stat) return { exists: false, kthread: false };
  let cgroup: string | undefined;
  try {
    cgroup = parseProcCgroup(readFileSync(join(procRoot, String(pid), 'cgroup'), 'utf8'));
  } catch {
    cgroup = undefined;
  }
  return { exists: true, kthread: (stat.flags & PF_KTHREAD) !== 0, comm: stat.comm, state: stat.state, cgroup };
}

/**
 * Whether a standard signal is already pending for the whole process
 * (ShdPnd in /proc/PID/status: where kill(2) puts it). A standard signal sent
 * while the same one is pending merges with it: the handler runs once.
 */
export function sharedSignalPending(pid: number, signo: number, procRoot = '/proc'): boolean {
  let text: string;
  try {
    text = readFileSync(join(procRoot, String(pid), 'status'), 'utf8');
  } catch {
    return false;
  }
  const m = /^ShdPnd:\s*([0-9a-fA-F]+)$/m.exec(text);
  return m !== null && ((BigInt('0x' + m[1]) >> BigInt(signo - 1)) & 1n) === 1n;
}
