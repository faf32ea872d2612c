// The real CLI on a real terminal (root, real BPF): `isolwatch demo`,
// `isolwatch --pid N` and bare `isolwatch` run inside a private tmux server;
// we read the screen with capture-pane and drive it with send-keys. Checks
// that real causes are attributed on screen (the demo's membarrier IPIs to
// its own sender thread and CPU), the header's live fields, and that every
// way out (q, Ctrl-C, SIGTERM) exits 0 with the terminal restored (same stty
// state, alternate screen left, cursor shown), the BPF programs and links
// this process created gone, and the demo's disturber gone.
//
// Other engineers trace concurrently: only ids and pids this test's own
// processes created are checked, never global counts.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bpftraceCount, CLI, requireRoot, startBpftrace, startWorkload, type Workload } from './harness.js';

const SOCKET = `isolwatch-tui-live-${process.pid}`;
let counter = 0;
const sessions = new Set<string>();

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

const capture = (name: string): string => tmux('capture-pane', '-p', '-t', name);
const paneFlag = (name: string, flag: string): string => tmux('display-message', '-p', '-t', name, `#{${flag}}`).trim();
const keys = (name: string, ...k: string[]): void => void tmux('send-keys', '-t', name, ...k);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(name: string, pred: (screen: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < until) {
    screen = capture(name);
    if (pred(screen)) return screen;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; screen was:\n${screen}`);
}

const has = (s: string) => (screen: string) => screen.includes(s);

/**
 * Runs the CLI in a new session. The shell saves the terminal state first and after the CLI
 * exits prints its status and whether the terminal state is exactly what it was.
 */
function startCli(args: string, cols = 100, rows = 30, env = ''): string {
  const name = `live-${process.pid}-${++counter}`;
  const cmd =
    `S0=$(stty -g); ${env} node ${JSON.stringify(CLI)} ${args}; echo "CLI-EXIT:$?"; ` +
    `[ "$(stty -g)" = "$S0" ] && echo TTY-RESTORED || echo TTY-CHANGED; sleep 120`;
  tmux('new-session', '-d', '-x', String(cols), '-y', String(rows), '-s', name, cmd);
  sessions.add(name);
  return name;
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** True while pid is a process that has not exited (zombies count as gone). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The isolwatch node process started in the pane (the shell's child). */
async function cliPid(name: string): Promise<number> {
  const shell = Number(paneFlag(name, 'pane_pid'));
  for (let i = 0; i < 100; i++) {
    const node = children(shell).find((p) => comm(p) === 'node');
    if (node) return node;
    await sleep(100);
  }
  throw new Error(`no node process under the pane's shell ${shell}`);
}

interface BpfIds {
  progs: number[];
  links: number[];
}

/** BPF programs and links a process holds, from its fds (fdinfo prog_id / link_id). */
function bpfIdsOf(pid: number): BpfIds {
  const progs = new Set<number>();
  const links = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.startsWith('anon_inode:bpf')) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s*(\d+)/m.exec(info);
    const prog = /^prog_id:\s*(\d+)/m.exec(info);
    if (link) links.add(Number(link[1]));
    else if (prog) progs.add(Number(prog[1]));
  }
  return { progs: [...progs], links: [...links] };
}

const bpftool = (what: 'prog' | 'link', id: number) => spawnSync('bpftool', ['-j', what, 'show', 'id', String(id)], { encoding: 'utf8' });

/** Names of the given program ids that still exist (ids are allocated cyclically: not reused soon). */
function existingProgs(ids: number[]): string[] {
  return ids.flatMap((id) => {
    const r = bpftool('prog', id);
    return r.status === 0 ? [`${id}:${(JSON.parse(r.stdout) as { name?: string }).name}`] : [];
  });
}
const existingLinks = (ids: number[]): number[] => ids.filter((id) => bpftool('link', id).status === 0);

/** Everything a clean exit leaves behind: status 0, terminal as before, its BPF objects and children gone. */
async function expectCleanExit(name: string, ids: BpfIds, pids: number[]): Promise<void> {
  const screen = await waitFor(name, has('TTY-'), 'the CLI to exit', 20_000);
  expect(screen).toContain('CLI-EXIT:0');
  expect(screen).toContain('TTY-RESTORED'); // stty state identical: raw mode left, echo back
  expect(screen).not.toContain('Top causes'); // back on the normal screen
  expect(paneFlag(name, 'alternate_on')).toBe('0');
  expect(paneFlag(name, 'cursor_flag')).toBe('1');
  // the kernel frees a closed program/link after an RCU grace period (deferred work): give it 5 s
  for (let i = 0; i < 50 && (existingProgs(ids.progs).length || existingLinks(ids.links).length); i++) await sleep(100);
  expect(existingProgs(ids.progs)).toEqual([]);
  expect(existingLinks(ids.links)).toEqual([]);
  for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
  expect(pids.filter(alive)).toEqual([]);
}

/** The demo's processes once it is on screen: isolwatch, its disturber, and the labels in the header. */
async function demoRunning(name: string) {
  const screen = await waitFor(name, (s) => /demo: spinner disturb\/\d+ on CPU \d+/.test(s) && /live 00:0\d/.test(s), 'the demo view');
  const cli = await cliPid(name);
  const disturb = children(cli).filter((p) => comm(p) === 'disturb');
  expect(disturb).toHaveLength(1);
  const label = /demo: spinner disturb\/(\d+) on CPU (\d+) \(declared isolated\)[^\n]*\n +disturber disturb\/(\d+) on CPU (\d+)/.exec(screen)!;
  expect(label, 'demo labels in the header').not.toBeNull();
  const [spinnerTid, targetCpu, senderTid, fromCpu] = label.slice(1).map(Number);
  // the labels name real threads of the disturber
  expect(existsSync(`/proc/${disturb[0]}/task/${spinnerTid}`)).toBe(true);
  expect(existsSync(`/proc/${disturb[0]}/task/${senderTid}`)).toBe(true);
  const ids = bpfIdsOf(cli);
  // what this process attached: handle_* programs, each behind a link
  expect(ids.progs.length).toBeGreaterThan(10);
  expect(ids.links.length).toBeGreaterThan(10);
  const names = existingProgs(ids.progs.slice(0, 5)).map((s) => s.split(':')[1]);
  expect(names.length).toBe(5);
  for (const n of names) expect(n).toMatch(/^handle_/);
  return { screen, cli, disturb: disturb[0], spinnerTid, senderTid, targetCpu, fromCpu, ids };
}

describe('the live CLI in a real terminal (root, real BPF, tmux)', () => {
  beforeAll(() => {
    requireRoot();
    if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is missing: run npm run setup (installs it)');
    if (spawnSync('bpftool', ['version']).status !== 0) throw new Error('bpftool is missing: run npm run setup (installs it)');
  });

  afterEach(() => {
    for (const name of sessions) spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', name], { stdio: 'ignore' });
    sessions.clear();
  });

  afterAll(() => {
    const dir = process.env.TMUX_TMPDIR ?? tmpdir();
    rmSync(join(dir, `tmux-${process.getuid?.() ?? 0}`, SOCKET), { force: true });
  });

  it('demo: real causes attributed on screen (ipi_mb from the demo sender), live header, q exits cleanly', async () => {
    const s = startCli('demo', 160, 40); // wide: event lines show their whole cause
    const d = await demoRunning(s);
    let screen = d.screen;
    expect(paneFlag(s, 'alternate_on')).toBe('1');
    expect(screen).toMatch(new RegExp(`CPU ${d.targetCpu}:(isolated|nohz_full|isolated\\+nohz_full|housekeeping)`));
    expect(screen).toMatch(/PR_ISOL (supported|absent)/);
    expect(screen).toMatch(/probes \d+ attached, (none missing|\d+ missing)/);
    expect(screen).toMatch(/lost \d+ /); // the session's kernel counter, not "n/a"
    expect(screen).toContain('enforcement off');
    // Whether the demo's munmaps reach its CPU as flush_tlb_func IPIs is this kernel's business
    // (a hypervisor may flush instead): counted independently while the demo runs.
    const bt = await startBpftrace(`tracepoint:csd:csd_function_entry /cpu == ${d.targetCpu} && args->func == kaddr("flush_tlb_func")/ { @ran = count(); }`);
    await sleep(2000); // 40 munmaps at the demo's 20/s
    const flushIpis = bpftraceCount(await bt.stop(), 'ran');
    expect(screen).toContain(
      flushIpis > 0 ? '20/s each: membarrier -> IPI ipi_mb,\n  munmap -> IPI flush_tlb_func' : '20/s each: membarrier -> IPI ipi_mb,\n  munmap -> TLB flush via hypervisor (no IPI)',
    );
    expect(screen).toContain(`spinner disturb/${d.spinnerTid} on CPU ${d.targetCpu} (declared isolated), 20/s own getppid`);
    // task panel: the demo's threads, declared isolated, listed before anything hits them
    expect(screen).toMatch(new RegExp(`${d.disturb}/${d.spinnerTid} +disturb +declared`));

    // The membarrier IPIs, attributed to the demo's sender thread on its CPU with the kernel callsite.
    // Top causes are ordered by stolen time, and on a busy machine preemptions come first: filter.
    keys(s, '/');
    await waitFor(s, has('filter: _'), 'the filter prompt');
    keys(s, '-l', 'ipi_mb');
    keys(s, 'Enter');
    const ipiMb = `IPI call_function_single -> ipi_mb from disturb/${d.senderTid} on CPU ${d.fromCpu}`;
    screen = await waitFor(s, (x) => x.includes('filter "ipi_mb"') && x.includes(ipiMb), 'ipi_mb attributed to the demo sender');
    // the same cause in the event log, with the victim: the demo's spinner
    expect(screen).toMatch(new RegExp(`ipi_mb from disturb/${d.senderTid} on CPU ${d.fromCpu} .*\\[disturb/${d.spinnerTid}\\]`));

    // Enter on it: the detail names the callsite, the chain and a histogram
    keys(s, 'Tab', 'Tab');
    await waitFor(s, has('>> Top causes'), 'focus on Top causes');
    keys(s, 'Enter');
    screen = await waitFor(s, has(`Top cause: ${ipiMb}`), 'the cause detail');
    expect(screen).toContain('membarrier_private_expedited');
    expect(screen).toContain(`victim: disturb/${d.spinnerTid}`);
    expect(screen).toContain('Chain (newest)');
    expect(screen).toContain('Durations');
    keys(s, 'Escape');
    await waitFor(s, has('>> Top causes'), 'back to the panels');

    // the TLB shootdowns from its munmaps, too, where the kernel sent them as IPIs
    keys(s, '/');
    await waitFor(s, has('filter: '), 'the filter prompt');
    for (let i = 0; i < 6; i++) keys(s, 'BSpace');
    keys(s, '-l', 'flush_tlb');
    keys(s, 'Enter');
    if (flushIpis > 0) {
      // (checked per event: the cause group may also hold other threads of the process, as disturb/*)
      await waitFor(
        s,
        (x) => new RegExp(`flush_tlb_func from disturb/${d.senderTid} on CPU ${d.fromCpu} .*\\[disturb/${d.spinnerTid}\\]`).test(x),
        'flush_tlb_func attributed to the demo sender',
      );
    } else {
      screen = await waitFor(s, has('filter "flush_tlb"'), 'the flush_tlb filter');
      expect(screen, 'no flush_tlb_func IPI ran on the CPU: none may be shown').not.toMatch(new RegExp(`flush_tlb_func from disturb/${d.senderTid}`));
    }

    // live: the clock runs and rates are per second
    keys(s, 'Escape'); // clears the filter
    const t1 = Number(/live 00:(\d\d\.\d)/.exec(await waitFor(s, has('int/s'), 'rates'))![1]);
    screen = await waitFor(s, (x) => Number(/live 00:(\d\d\.\d)/.exec(x)?.[1] ?? 0) >= t1 + 1, 'the elapsed clock to advance');
    expect(screen).toMatch(new RegExp(`^>? +${d.targetCpu} +\\S+ +disturb/\\d+ +\\d+(\\.\\d)?k? `, 'm')); // CPU row: victim, int/s

    keys(s, 'q');
    await expectCleanExit(s, d.ids, [d.cli, d.disturb]);
  }, 120_000);

  it('demo: Ctrl-C exits cleanly and stops the disturber', async () => {
    const s = startCli('demo', 80, 24);
    const d = await demoRunning(s);
    keys(s, 'C-c');
    await expectCleanExit(s, d.ids, [d.cli, d.disturb]);
  }, 90_000);

  it('demo: SIGTERM exits cleanly and stops the disturber', async () => {
    const s = startCli('demo', 80, 24, 'NO_COLOR=1');
    const d = await demoRunning(s);
    process.kill(d.cli, 'SIGTERM');
    await expectCleanExit(s, d.ids, [d.cli, d.disturb]);
  }, 90_000);

  describe('--pid', () => {
    let spin: Workload | undefined;
    afterEach(async () => {
      await spin?.finish();
      spin = undefined;
    });

    it('isolwatch --pid N: watches where its threads run, the task declared, its own syscalls; says when it exits', async () => {
      // a spinner on CPU 1 making 50 getppid() a second; its main thread stays on a housekeeping CPU
      spin = await startWorkload('spin', ['--cpu', '1', '--seconds', '0', '--syscalls-per-sec', '50', '--no-wait']);
      const pid = Number(spin.ready.pid);
      const tid = Number(spin.ready.tid);
      const s = startCli(`--pid ${pid}`);
      let screen = await waitFor(s, (x) => x.includes(`${pid}/${tid}`) && x.includes('syscall getppid'), 'the spinner and its syscalls');
      const cli = await cliPid(s);
      const ids = bpfIdsOf(cli);
      expect(ids.progs.length).toBeGreaterThan(10);
      expect(screen).toMatch(/CPU 1:\S+/);
      expect(screen).not.toMatch(/CPU 0:/); // not the main thread's housekeeping CPU
      expect(screen).toMatch(new RegExp(`${pid}/${tid} +spin +declared`));
      screen = await waitFor(s, has(`syscall getppid (self)  [spin/${tid}]`), 'its own syscalls in the event log');
      expect(screen).toMatch(/lost \d+ /);

      // the task exits: the view stays, and says so
      await spin.finish();
      spin = undefined;
      screen = await waitFor(s, has(`! pid ${pid} exited`), 'the exit notice');
      keys(s, 'q');
      await expectCleanExit(s, ids, [cli]);
    }, 90_000);
  });

  it('bare isolwatch opens the live view on the default CPUs and says how they were chosen', async () => {
    const s = startCli('');
    // lost events come from the session's counter, polled once a second
    const screen = await waitFor(s, (x) => /live 00:0[1-9]/.test(x) && x.includes('>> CPUs'), 'the live view');
    expect(screen).toMatch(/lost \d+ /);
    expect(screen).toContain('enforcement off');
    const cli = await cliPid(s);
    const ids = bpfIdsOf(cli);
    expect(ids.progs.length).toBeGreaterThan(10);
    const topo = (f: string) => readFileSync(`/sys/devices/system/cpu/${f}`, 'utf8').trim();
    if (!topo('isolated') && !(existsSync('/sys/devices/system/cpu/nohz_full') && topo('nohz_full') && topo('nohz_full') !== '(null)')) {
      // no isolated CPUs here: the highest online CPU, said plainly
      const highest = Math.max(...topo('online').split(',').map((r) => Number(r.split('-').pop())));
      expect(screen).toContain(`CPU ${highest}:housekeeping (no isolated CPUs: watching the highest)`);
      expect(screen).toContain('warning: no isolated or nohz_full CPUs on this machine');
    } else {
      expect(screen).toMatch(/CPU \d+:(isolated|nohz_full)/);
    }
    keys(s, 'q');
    await expectCleanExit(s, ids, [cli]);
  }, 90_000);
});
