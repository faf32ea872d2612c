// Where isolwatch's own files are, in a checkout (src/*.ts run by vitest,
// dist/src/*.js built) and in an installed package alike: everything is
// found from the package root, the nearest directory above this module with
// isolwatch's package.json. One place, so a move or a packaging change
// cannot leave one path behind.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root (the directory holding isolwatch's package.json). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'isolwatch') return (root = dir);
      } catch {
        /* not ours: keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`isolwatch's package.json is not above ${fileURLToPath(import.meta.url)}: is the installation complete?`);
    dir = up;
  }
}

/**
 * The directory of one architecture's built files (BPF object, helpers), named as
 * Node names architectures (process.arch: x64, arm64): a package may carry several.
 */
export const archDir = (arch: string = process.arch): string => join(packageRoot(), 'build', arch);
/** The compiled CO-RE object for this architecture. */
export const bpfObjectPath = (arch?: string): string => join(archDir(arch), 'isolwatch.bpf.o');
/** The PR_ISOL helper that configures, activates and execs a command (run --isolate). */
export const chisolPath = (): string => join(archDir(), 'chisol');
/** The demo's workload (test/workloads/disturb.c, built with the helpers). */
export const demoWorkloadPath = (): string => join(archDir(), 'disturb');

let version: string | undefined;

/** isolwatch's version, from its package.json (the one place it is written). */
export function packageVersion(): string {
  return (version ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version);
}

/** V8's young-generation semi-space size isolwatch runs with (src/cli.ts; the benchmarks use it too). */
export const SEMI_SPACE_MB = 4;
