// Output files of run and report (--junit, --report, --summary, --perfetto,
// --html) are checked before anything starts: a typo in a directory must not
// cost a whole CI run, or be found only when the reports are written.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** What is wrong with writing `path`, or undefined when it can be written. */
export function outputPathProblem(path: string): string | undefined {
  if (path === '') return 'an empty file name';
  const full = resolve(path);
  const st = statSync(full, { throwIfNoEntry: false });
  if (st?.isDirectory()) return 'is a directory (give a file name)';
  const dir = dirname(full);
  const dst = statSync(dir, { throwIfNoEntry: false });
  if (!dst) return `directory ${dir} does not exist (create it or write elsewhere)`;
  if (!dst.isDirectory()) return `${dir} is not a directory`;
  try {
    accessSync(st ? full : dir, constants.W_OK);
  } catch {
    return st ? 'the file is not writable' : `directory ${dir} is not writable`;
  }
  return undefined;
}

/** Throws a one-line UsageError (exit 2) for the first output that cannot be written, or one file given twice. */
export function checkOutputPaths(cmd: string, outputs: Record<string, string | undefined>): void {
  const seen = new Map<string, string>();
  for (const [flag, path] of Object.entries(outputs)) {
    if (path === undefined) continue;
    const problem = outputPathProblem(path);
    if (problem) throw new UsageError(`isolwatch ${cmd}: ${flag} ${path}: ${problem}`);
    const full = resolve(path);
    const other = seen.get(full);
    if (other) throw new UsageError(`isolwatch ${cmd}: ${other} and ${flag} both write ${path}: give each its own file`);
    seen.set(full, flag);
  }
}
