// Headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) for
// the HTML report's tests and the docs screenshot: the DOM after the page's
// script ran (--dump-dom), or a PNG (--screenshot). Each run gets a fresh
// profile directory; afterwards every process still running with that
// profile in its command line (Chromium's helpers) is killed by pid, so no
// browser outlives a test.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-crash-reporter',
  '--disable-breakpad',
  '--hide-scrollbars',
];

/** Fails loudly when the browser is missing: the HTML tests are never skipped. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run 'npm run setup' as root (installs Debian's chromium package)`);
}

/** Pids of processes whose command line mentions `marker` (our fresh profile directory). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker)) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

export interface ChromiumResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** helper processes that were still running after the browser exited, and were killed */
  leftover: number[];
}

/** Runs Chromium on `args` (e.g. ['--dump-dom', url]) with the flags above; kills it after timeoutMs. */
export async function runChromium(args: string[], timeoutMs = 60_000): Promise<ChromiumResult> {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'iw-chromium-'));
  try {
    const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    clearTimeout(timer);
    const leftover = processesWith(profile);
    for (const pid of leftover) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    return { code, stdout, stderr, leftover };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
