// One boot of a quiet-CPU guest for the vm tests: test/vm/run --kernel K
// --timeout S --out DIR -- COMMAND. Resolves with the "NAME exit=N" lines the
// guest scripts print on stdout (each case's isolwatch status); rejects with
// everything the guest printed when the guest itself failed (test/vm/run's
// status not 0: COMMAND failed, the boot failed, or the timeout killed it).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');

export function bootGuest(kernel: string, out: string, timeoutS: number, command: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(here, 'run'), ['--kernel', kernel, '--timeout', String(timeoutS), '--out', out, '--', ...command], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`${kernel} guest failed (${code}):\n${stdout}\n${stderr}`));
      else resolve(Object.fromEntries([...stdout.matchAll(/^(\S+) exit=(\d+)$/gm)].map((m) => [m[1], Number(m[2])])));
    });
  });
}
