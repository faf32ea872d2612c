// The TUI in a real terminal: the compiled replay harness runs inside a
// private tmux server; we read the screen with capture-pane and drive it with
// send-keys. Checks what is on screen, the keys, a clean exit (status 0,
// alternate screen left, cursor shown), NO_COLOR, resize, and that a crash
// still restores the terminal. No root needed; no wall-clock assertions.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'tui', 'replay-main.js');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'recordings', 'tui-sample.ndjson');
// A private tmux server: nothing we do can touch anyone else's sessions.
const SOCKET = `isolwatch-tui-test-${process.pid}`;
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

let counter = 0;
const live = new Set<string>();

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Starts the replay in a new detached session; after it exits the shell prints its status and lingers. */
function startReplay(cols: number, rows: number, env = '', args = ''): string {
  const name = `tui-${process.pid}-${++counter}`;
  const cmd = `${env} node ${JSON.stringify(MAIN)} ${JSON.stringify(FIXTURE)} ${args}; echo "TUI-EXIT:$?"; sleep 60`;
  tmux('new-session', '-d', '-x', String(cols), '-y', String(rows), '-s', name, cmd);
  live.add(name);
  return name;
}

function capture(name: string, escapes = false): string {
  return tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', name);
}

function paneFlag(name: string, flag: string): string {
  return tmux('display-message', '-p', '-t', name, `#{${flag}}`).trim();
}

async function waitFor(name: string, pred: (screen: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < until) {
    screen = capture(name);
    if (pred(screen)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; screen was:\n${screen}`);
}

const has = (s: string) => (screen: string) => screen.includes(s);

function keys(name: string, ...k: string[]): void {
  tmux('send-keys', '-t', name, ...k);
}

describe.skipIf(!hasTmux)('tui in a real terminal (tmux)', () => {
  beforeAll(() => {
    // Build when the compiled harness is missing or older than the sources. Other parts of the
    // tree may not typecheck mid-change; tsc still emits, so only the output is checked.
    if (!existsSync(MAIN) || statSync(MAIN).mtimeMs < newestMtime(join(ROOT, 'tui'))) {
      spawnSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' });
    }
    expect(existsSync(MAIN), `${MAIN} missing: run 'npx tsc -p .'`).toBe(true);
  }, 180_000);

  afterEach(() => {
    for (const name of live) spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', name], { stdio: 'ignore' });
    live.clear();
  });

  afterAll(() => {
    // The server exits with its last session; its socket file may stay behind.
    const dir = process.env.TMUX_TMPDIR ?? tmpdir();
    rmSync(join(dir, `tmux-${process.getuid?.() ?? 0}`, SOCKET), { force: true });
  });

  it('100x30: shows the recording, drills into a cause, help, filter, pause, quits cleanly', async () => {
    const s = startReplay(100, 30);
    let screen = await waitFor(s, (x) => x.includes('ipi_mb') && x.includes('noise/4242'), 'the replayed recording');
    expect(paneFlag(s, 'alternate_on')).toBe('1');
    for (const t of ['6.18.0-isol+', '1:isolated+nohz_full', 'PR_ISOL supported', '>> CPUs (2 watched)', 'app/5000', 'active (kernel PR_ISOL)', 'Top causes', 'Events (']) {
      expect(screen).toContain(t);
    }
    // colour is on by default: the pane holds SGR colour sequences
    expect(capture(s, true)).toMatch(/\x1b\[[0-9;]*(3[0-7]|4[0-7])m/);

    // Tab twice -> Top causes; Enter on the first (ipi_mb from noise) -> detail
    keys(s, 'Tab', 'Tab');
    await waitFor(s, has('>> Top causes'), 'focus on Top causes');
    keys(s, 'Enter');
    screen = await waitFor(s, has('Top cause: IPI call_function_single -> ipi_mb from noise/4242 on CPU 0'), 'cause detail');
    expect(screen).toContain('Durations');
    expect(screen).toMatch(/< \d+(\.\d+)?us \|#+ +\d+/); // histogram rows
    expect(screen).toMatch(/Remedy\n\s+(Why: |no remedy known)/); // catalogue text when built, else said plainly
    keys(s, 'Escape');
    await waitFor(s, has('>> Top causes'), 'back to the panels');

    keys(s, '?');
    screen = await waitFor(s, has('Keys'), 'help');
    expect(screen).toContain('q, Ctrl-C');
    keys(s, 'Escape');
    await waitFor(s, has('>> Top causes'), 'help closed');

    // filter: only vmstat_update left in causes and events
    keys(s, '/');
    await waitFor(s, has('filter: _'), 'filter prompt');
    keys(s, '-l', 'vmstat');
    keys(s, 'Enter');
    screen = await waitFor(s, has('filter "vmstat"'), 'filter applied');
    expect(screen).toContain('vmstat_update');
    expect(screen).not.toContain('ipi_mb');

    keys(s, 'p');
    await waitFor(s, has('PAUSED'), 'pause');

    keys(s, 'q');
    screen = await waitFor(s, has('TUI-EXIT:'), 'exit');
    expect(screen).toContain('TUI-EXIT:0');
    expect(screen).not.toContain('Top causes'); // back on the normal screen
    expect(paneFlag(s, 'alternate_on')).toBe('0');
    expect(paneFlag(s, 'cursor_flag')).toBe('1');
  });

  it('80x24 with NO_COLOR=1: fits, no colour sequences, follows a resize, Ctrl-C quits', async () => {
    const s = startReplay(80, 24, 'NO_COLOR=1');
    let screen = await waitFor(s, (x) => x.includes('ipi_mb') && x.includes('q quit'), 'the replayed recording');
    const lines = screen.split('\n');
    for (const t of ['>> CPUs', 'Tasks (2)', 'Top causes', 'Events (', 'lost 0']) expect(screen).toContain(t);
    expect(lines.filter((l) => l.includes('q quit'))).toHaveLength(1);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(capture(s, true)).not.toMatch(/\x1b\[[0-9;]*(3[0-7]|4[0-7]|38;5;\d+|48;5;\d+)m/);

    tmux('resize-window', '-t', s, '-x', '120', '-y', '40');
    screen = await waitFor(s, (x) => x.split('\n').some((l) => l.trimEnd().length > 80), 'redraw at 120x40');
    expect(screen).toContain('membarrier_private_expedited');

    keys(s, 'C-c');
    screen = await waitFor(s, has('TUI-EXIT:'), 'exit');
    expect(screen).toContain('TUI-EXIT:0');
    expect(paneFlag(s, 'alternate_on')).toBe('0');
  });

  it('live path (--live demo): records stream in, live rates, elapsed clock runs', async () => {
    const s = startReplay(100, 30, '', '--live --speed 4');
    const screen = await waitFor(s, (x) => x.includes('int/s') && x.includes('ipi_mb') && /live 00:0\d\.\d/.test(x), 'live screen');
    expect(screen).toContain('rates over last 5s');
    expect(screen).toContain('lost n/a'); // the replay harness has no session counters
    keys(s, 'q');
    expect(await waitFor(s, has('TUI-EXIT:'), 'exit')).toContain('TUI-EXIT:0');
    expect(paneFlag(s, 'alternate_on')).toBe('0');
  });

  it('a crash restores the terminal first, then prints the error and exits non-zero', async () => {
    const s = startReplay(100, 30, '', '--crash-after-ms 1500');
    await waitFor(s, has('ipi_mb'), 'the replayed recording');
    const screen = await waitFor(s, has('TUI-EXIT:'), 'exit after the crash');
    expect(screen).toMatch(/replay-main: Error: .*deliberate crash/); // printed by our shutdown path, after restoring
    expect(screen).toContain('TUI-EXIT:1');
    expect(paneFlag(s, 'alternate_on')).toBe('0');
    expect(paneFlag(s, 'cursor_flag')).toBe('1');
  });
});
