// Scratch directories for test files: made in the system's temporary directory when first used,
// removed after the tests of the scope that asked for them, and kept, with their path printed,
// when a test there failed, so the files a failing test looked at are there to read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';

/**
 * Returns `path(...parts)`: a path in a directory `<tmp>/<prefix>XXXXXX`, which the first call
 * makes (a block whose tests are all filtered out makes none). Call scratchDir where hooks may be
 * registered (a file's top level or a describe block).
 */
export function scratchDir(prefix: string): (...parts: string[]) => string {
  let dir: string | undefined;
  let failed = false;
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(() => {
    if (!dir) return;
    if (failed) process.stderr.write(`${prefix.replace(/-$/, '')}: files kept in ${dir} (a test failed)\n`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return (...parts) => {
    dir ??= mkdtempSync(join(tmpdir(), prefix));
    return join(dir, ...parts);
  };
}
