// Root integration harness: runs the real CLI (real BPF) and real C
// workloads, with the workloads' ready/go/done handshake so the measured
// window is known on the same clock as the records (CLOCK_MONOTONIC).
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AggregateRecord, InterruptionRecord, OutputRecord } from '../../src/types.js';
import type { AggregateRow } from '../../src/verdict/rows.js';

export const ROOT = join(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli.js');
export const BIN = (name: string) => join(ROOT, 'test/workloads/bin', name);

/** Root tests are never skipped: they fail loudly when the environment cannot run them. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('root integration tests need root (they load BPF programs): run npm test as root');
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build`);
  if (!existsSync('/sys/kernel/btf/vmlinux')) throw new Error('this kernel has no BTF: root integration tests cannot run');
}

export const nowNs = () => Number(process.hrtime.bigint());

/**
 * Runs argv as an unprivileged user with the checkout reachable wherever it
 * lives: a checkout under a 0700 directory (mktemp -d) is not traversable by
 * that user, so argv runs in a private mount namespace where the checkout is
 * bind-mounted at a world-traversable mkdtemp path. `argv` gets that path:
 * build the paths into the checkout from it. With `caps` (setpriv names:
 * 'bpf', 'perfmon'), argv runs as that user holding those capabilities
 * (inheritable + ambient, so they survive the exec).
 */
export function runAsUser(
  user: string,
  argv: (checkout: string) => string[],
  opts: { cwd?: (checkout: string) => string; timeout?: number; caps?: string[] } = {},
): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), 'iwt-as-user-'));
  try {
    chmodSync(dir, 0o755);
    const mnt = join(dir, 'checkout');
    mkdirSync(mnt);
    const cmd = argv(mnt);
    const cwd = opts.cwd?.(mnt) ?? '/';
    const become = opts.caps
      ? 'exec setpriv --reuid="$0" --regid="$(id -g "$0")" --clear-groups --inh-caps="$IWT_CAPS" --ambient-caps="$IWT_CAPS" -- "$@"'
      : 'exec runuser -u "$0" -- "$@"';
    const script = `mount --bind "$1" "$2" && cd "$3" && shift 3 && ${become}`;
    return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, user, ROOT, mnt, cwd, ...cmd], {
      env: opts.caps ? { ...process.env, IWT_CAPS: opts.caps.map((c) => `+${c}`).join(',') } : process.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeout ?? 60_000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Watcher {
  records: OutputRecord[];
  ready: Promise<void>;
  stop(): Promise<{ code: number | null; records: OutputRecord[]; stderr: string }>;
  proc: ChildProcess;
  /** what it printed on stderr so far */
  stderr(): string;
}

/** Starts `isolwatch watch --json ...` and resolves ready once the start record (= attached) arrives. */
export function startWatch(args: string[]): Watcher {
  const proc = spawn(process.execPath, [CLI, 'watch', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const records: OutputRecord[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  let onReady!: () => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => ((onReady = res), (onFail = rej)));
  const rl = createInterface({ input: proc.stdout! });
  rl.on('line', (l) => {
    const r = JSON.parse(l) as OutputRecord;
    records.push(r);
    if (r.type === 'start') onReady();
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  exited.then((code) => onFail(new Error(`isolwatch exited (${code}) before attaching: ${stderr}`)));
  return {
    records,
    ready,
    proc,
    stderr: () => stderr,
    async stop() {
      await new Promise((r) => setTimeout(r, 400)); // one more drain period
      proc.kill('SIGINT');
      const code = await exited;
      await new Promise((r) => setImmediate(r));
      return { code, records, stderr };
    },
  };
}

export interface Workload {
  ready: Record<string, string>;
  go(): Promise<Record<string, string>>;
  finish(): Promise<number | null>;
  goNs?: number;
  doneNs?: number;
}

function kv(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of line.split(/\s+/).slice(1)) {
    const i = p.indexOf('=');
    if (i > 0) out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** Starts a workload and waits for its ready line; go() starts the window and resolves with the done line. */
export async function startWorkload(name: string, args: string[]): Promise<Workload> {
  const proc = spawn(BIN(name), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const rl = createInterface({ input: proc.stdout! });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  rl.on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (c) => res(c)));
  const next = (prefix: string) =>
    new Promise<string>((res, rej) => {
      const take = (l: string) => (l.startsWith(prefix) ? res(l) : waiters.unshift(take));
      const queued = lines.findIndex((l) => l.startsWith(prefix));
      if (queued >= 0) return res(lines.splice(queued, 1)[0]);
      waiters.push(take);
      exited.then((c) => rej(new Error(`${name} exited (${c}) before '${prefix}': ${stderr}`)));
    });
  const ready = kv(await next('ready'));
  const w: Workload = {
    ready,
    async go() {
      w.goNs = nowNs();
      proc.stdin!.write('go\n');
      const done = kv(await next('done'));
      w.doneNs = nowNs();
      return done;
    },
    async finish() {
      proc.stdin!.end();
      return exited;
    },
  };
  return w;
}

export interface Bpftrace {
  /** everything it printed so far */
  out(): string;
  /** SIGINT, then what it printed (its maps are printed at exit) */
  stop(): Promise<string>;
}

/**
 * An independent counter: bpftrace running `script`, resolved once attached
 * (BEGIN fires after every probe is attached: checked, it prints a line the
 * test waits for). End it with stop(); afterEach-safe by pid.
 */
export async function startBpftrace(script: string, timeoutMs = 60_000): Promise<Bpftrace> {
  const proc = spawn('bpftrace', ['-B', 'line', '-e', `BEGIN { printf("bpftrace-ready\\n"); }\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((res) => proc.on('exit', (c) => res(c)));
  const deadline = Date.now() + timeoutMs;
  while (!out.includes('bpftrace-ready')) {
    if (proc.exitCode !== null) throw new Error(`bpftrace exited (${proc.exitCode}) before attaching: ${err}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`bpftrace did not attach within ${timeoutMs} ms: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    out: () => out,
    async stop() {
      // SIGINT again every 500 ms until it ends: a SIGINT that lands between bpftrace's check of
      // its exit flag and its wait for events is only acted on at the next event, and a script
      // whose events have stopped (irq_work on an idle CPU) then waits forever (seen in CI: 60 s,
      // bpftrace in epoll_wait with the signal caught)
      const again = setInterval(() => proc.exitCode === null && proc.kill('SIGINT'), 500);
      try {
        if (proc.exitCode === null) proc.kill('SIGINT');
        await exited;
      } finally {
        clearInterval(again);
      }
      return out;
    },
  };
}

/** `@name: N` from bpftrace's exit output (0 when the map was never written). */
export function bpftraceCount(out: string, name: string): number {
  const m = new RegExp(`^@${name}: (\\d+)$`, 'm').exec(out);
  return m ? Number(m[1]) : 0;
}

export function interruptions(records: OutputRecord[], from = 0, to = Infinity): InterruptionRecord[] {
  return records.filter((r): r is InterruptionRecord => r.type === 'interruption' && r.ts_ns >= from && r.ts_ns <= to);
}

/** The rows of the last `aggregate` record of scope 'total' (every interruption, counted in the kernel). */
export function totals(records: OutputRecord[]): AggregateRow[] {
  const t = records.filter((r): r is AggregateRecord => r.type === 'aggregate' && r.scope === 'total').at(-1);
  if (!t) throw new Error(`no aggregate record of scope 'total' among ${records.length} records`);
  return t.rows;
}

/** How many interruptions the rows matching `pred` count. */
export function countOf(rows: readonly AggregateRow[], pred: (r: AggregateRow) => boolean): number {
  return rows.filter(pred).reduce((n, r) => n + r.count, 0);
}

/**
 * test/workloads/sigcount: prints "ready <pid>", a line per SIGUSR1 it takes,
 * and "received <n>" on SIGTERM. Lines are collected as they arrive.
 */
export class Sigcount {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  pid = 0;
  private wake: (() => void)[] = [];
  private static started: Sigcount[] = [];

  private constructor(
    readonly child: ChildProcess,
    private readonly waitMs: number,
  ) {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      this.wake.splice(0).forEach((f) => f());
    });
    this.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  }

  /** sigcount ARGS, pinned to `cpu` with taskset when given (taskset execs: the pid is sigcount's); waits for "ready". */
  static async start(args: string[], opts: { cpu?: number; waitMs?: number } = {}): Promise<Sigcount> {
    const [cmd, argv] = opts.cpu === undefined ? [BIN('sigcount'), args] : ['taskset', ['-c', String(opts.cpu), BIN('sigcount'), ...args]];
    const p = new Sigcount(spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'] }), opts.waitMs ?? 30_000);
    Sigcount.started.push(p);
    p.pid = Number((await p.waitFor((l) => l.startsWith('ready '))).split(' ')[1]);
    if (p.pid !== p.child.pid) throw new Error(`sigcount said pid ${p.pid}, spawned ${p.child.pid}`);
    return p;
  }

  /** The first line matching `pred`, waiting up to `ms` (default: the start option's waitMs) for it. */
  async waitFor(pred: (l: string) => boolean, ms = this.waitMs): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`sigcount ${this.pid}: no matching line in ${ms} ms; got ${JSON.stringify(this.lines.slice(-5))}`);
      await new Promise<void>((res) => {
        this.wake.push(res);
        setTimeout(res, 50);
      });
    }
  }

  /** SIGTERM, a clean exit, then the SIGUSR1 count it printed. */
  async received(): Promise<number> {
    this.child.kill('SIGTERM');
    const { code } = await this.exited;
    if (code !== 0) throw new Error(`sigcount ${this.pid} exited with ${code} after SIGTERM`);
    return Number((await this.waitFor((l) => l.startsWith('received '))).split(' ')[1]);
  }

  /** For afterEach: SIGKILL every sigcount started since, still running (by its ChildProcess, never by name). */
  static async killStarted(): Promise<void> {
    for (const p of Sigcount.started.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
  }
}
