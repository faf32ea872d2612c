// Every C workload must reject bad usage with exit status 2 and a message on stderr.
// No root needed: argument checks run before anything privileged.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const binDir = join(root, 'test', 'workloads', 'bin');

// A CPU number no test machine has (CPU_SETSIZE is 1024).
const NO_CPU = '1023';

const cases: Record<string, string[][]> = {
  syscalls: [
    [],
    ['--cpu', '0'],
    ['--count', '10'],
    ['--cpu', 'x', '--count', '10'],
    ['--cpu', '0', '--count', '-1'],
    ['--cpu', NO_CPU, '--count', '10'],
    ['--cpu', '0', '--count', '10', '--syscall', 'getpid'],
    ['--cpu', '0', '--count', '10', '--bogus'],
    ['--cpu', '0', '--count', '10', 'stray'],
    ['--cpu', '0', '--count', '10', '--linger-ms'],
    ['--cpu', '0', '--count', '10', '--no-wait=1'],
  ],
  faults: [
    [],
    ['--cpu', '0'],
    ['--cpu', '0', '--pages', '0'],
    ['--cpu', '0', '--pages', '12abc'],
    ['--cpu', NO_CPU, '--pages', '10'],
    ['--cpu', '0', '--pages', '10', '--main-cpu', NO_CPU],
  ],
  membarrier: [
    [],
    ['--spin-cpu', '1', '--count', '10'],
    ['--spin-cpu', '0', '--sender-cpu', '0', '--count', '10'],
    ['--spin-cpu', NO_CPU, '--sender-cpu', '0', '--count', '10'],
    ['--spin-cpu', '1', '--sender-cpu', '0', '--count', '10', '--interval-us', '-5'],
  ],
  tlb: [
    [],
    ['--spin-cpu', '1', '--unmap-cpu', '0'],
    ['--spin-cpu', '0', '--unmap-cpu', '0', '--count', '10'],
    ['--spin-cpu', '1', '--unmap-cpu', NO_CPU, '--count', '10'],
  ],
  spin: [
    [],
    ['--seconds', '1'],
    ['--cpu', '0', '--seconds', 'abc'],
    ['--cpu', '0', '--seconds', '1', '--ms', '100'],
    ['--cpu', '0', '--syscalls-per-sec', '-1'],
    ['--cpu', '0', '--timer-cpu', '0'],
    ['--cpu', NO_CPU],
  ],
  statrefresh: [
    [],
    ['--cpu', '0'],
    ['--count', '1'],
    ['--cpu', NO_CPU, '--count', '1'],
    ['--cpu', '0', '--count', '1', '--extra'],
  ],
  disturb: [
    [],
    ['--target-cpu', '1'],
    ['--target-cpu', '0', '--from-cpu', '0'],
    ['--target-cpu', '1', '--from-cpu', '0', '--kinds', 'membarrier,bogus'],
    ['--target-cpu', '1', '--from-cpu', '0', '--rate', '0'],
    ['--target-cpu', NO_CPU, '--from-cpu', '0'],
  ],
};

describe('workload binaries: bad usage exits 2', () => {
  for (const [name, argvs] of Object.entries(cases)) {
    const bin = join(binDir, name);
    describe(name, () => {
      it('is built', () => {
        expect(
          existsSync(bin),
          `${bin} is missing: build the workloads with \`make -f scripts/Makefile\``,
        ).toBe(true);
      });
      for (const argv of argvs) {
        it(`rejects [${argv.join(' ')}]`, () => {
          expect(existsSync(bin), `${bin} is missing: run \`make -f scripts/Makefile\``).toBe(true);
          // stdin is /dev/null: a binary that wrongly accepted the arguments gets EOF
          // instead of "go" and exits 1 rather than hanging.
          const r = spawnSync(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000, encoding: 'utf8' });
          expect(r.error).toBeUndefined();
          expect(r.status, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(2);
          expect(r.stderr).toMatch(new RegExp(`^${name}: error: .+`, 'm'));
          expect(r.stderr).toContain(`usage: ${name} `);
          expect(r.stdout).not.toMatch(/^ready /m);
        });
      }
      it('prints usage on --help and exits 0', () => {
        expect(existsSync(bin), `${bin} is missing: run \`make -f scripts/Makefile\``).toBe(true);
        const r = spawnSync(bin, ['--help'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000, encoding: 'utf8' });
        expect(r.status).toBe(0);
        expect(r.stdout).toContain(`usage: ${name} `);
      });
    });
  }
});
