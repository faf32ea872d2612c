// Process helpers for the benchmarks: build the C helpers, start a tracer and
// wait for its readiness line, stop it by pid, sample a process's memory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './results.js';

export const CLI = join(REPO, 'dist/src/cli.js');

/** Compiles bench/NAME.c into build/bench/NAME when missing or older than its source. */
export function buildHelper(name: string): string {
  const src = join(REPO, `bench/${name}.c`);
  const out = join(REPO, `build/bench/${name}`);
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(join(REPO, 'build/bench'), { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', out, src], { stdio: 'inherit' });
  }
  return out;
}

export function requireTool(cmd: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`'${cmd}' is not installed: apt-get install ${pkg} (or run 'npm run setup')`);
  }
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('benchmarks that attach BPF programs need root');
}

export interface Started {
  child: ChildProcess;
  /** ms from spawn to the readiness line */
  readyMs: number;
  line: string;
  stdout: () => string;
  stderr: () => string;
}

/**
 * Spawns cmd and resolves when a stdout/stderr line matches `ready` (or, when
 * `ready` is a number, after that many ms). Rejects with the output when the
 * process exits first or the timeout passes (the process is then killed).
 */
export function startAndWait(cmd: string, args: string[], ready: RegExp | number, timeoutMs = 60_000, opts: { stdin?: 'pipe' | 'ignore' } = {}): Promise<Started> {
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const res = { child, stdout: () => out, stderr: () => err };
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (e: Error | null, line = '') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        if (child.exitCode === null) child.kill('SIGKILL');
        reject(e);
      } else resolve({ ...res, readyMs: Number(process.hrtime.bigint() - t0) / 1e6, line });
    };
    const check = (chunk: string) => {
      if (typeof ready === 'number') return;
      const m = chunk.split('\n').find((l) => ready.test(l));
      if (m !== undefined) finish(null, m);
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.length > 4 << 20) out = out.slice(-(1 << 20)); // keep the tail only
      check(d);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      check(d);
    });
    child.on('error', (e) => finish(e));
    child.on('exit', (code, sig) => finish(new Error(`${cmd} exited (${code ?? sig}) before it was ready:\n${err.slice(-2000)}${out.slice(-500)}`)));
    const timer = setTimeout(
      () => (typeof ready === 'number' ? finish(null) : finish(new Error(`${cmd}: not ready within ${timeoutMs} ms:\n${err.slice(-2000)}`))),
      typeof ready === 'number' ? ready : timeoutMs,
    );
  });
}

/** Sends sig and waits for the exit (SIGKILL after graceMs). Resolves with the exit code. */
export function stop(child: ChildProcess, sig: NodeJS.Signals = 'SIGINT', graceMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    child.kill(sig);
  });
}

/** Runs a command to completion, returning stdout (throws with stderr on failure). */
export function runSync(cmd: string, args: string[], timeoutMs = 120_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** VmRSS and VmHWM of a process in kB (undefined when it is gone). */
export function memoryKb(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rss: get('VmRSS'), hwm: get('VmHWM') };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process so far (/proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  const hz = 100;
  return (Number(f[11]) + Number(f[12])) / hz;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `--name value` and `--flag` parsing for the bench commands (no dependencies). */
export function flags(argv: string[], spec: Record<string, 'number' | 'string' | 'bool'>, usage: string): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: ${usage}\n`);
      process.exit(0);
    }
    const name = a.replace(/^--/, '');
    const kind = spec[name];
    if (!a.startsWith('--') || !kind) {
      process.stderr.write(`error: unknown argument '${a}'\nusage: ${usage}\n`);
      process.exit(2);
    }
    if (kind === 'bool') {
      out[name] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) {
      process.stderr.write(`error: ${a} needs a value\nusage: ${usage}\n`);
      process.exit(2);
    }
    if (kind === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) {
        process.stderr.write(`error: ${a} '${v}' is not a non-negative number\nusage: ${usage}\n`);
        process.exit(2);
      }
      out[name] = n;
    } else out[name] = v;
  }
  return out;
}

const TRACING_TYPES = new Set(['tracing', 'raw_tracepoint', 'tracepoint', 'kprobe', 'perf_event']);

/**
 * Tracing BPF programs loaded right now, id -> name (names are cut to 15
 * characters by the kernel). bpftool here cannot say which process holds a
 * program (no pids), so callers compare snapshots: another engineer's session
 * with syscall probes puts every task on the slow syscall path and spoils a
 * baseline.
 */
export function tracingPrograms(): Map<number, string> {
  let list: { id: number; type?: string; name?: string }[];
  try {
    list = JSON.parse(runSync('bpftool', ['prog', 'show', '--json'], 20_000));
  } catch {
    return new Map();
  }
  return new Map(list.filter((p) => TRACING_TYPES.has(p.type ?? '')).map((p) => [p.id, p.name ?? '?']));
}
