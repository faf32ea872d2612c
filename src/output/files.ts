// Report files: every output path is checked before anything starts (a bad
// path must not cost a whole run, found only when the report is written),
// then written whole. `--summary` appends: $GITHUB_STEP_SUMMARY collects the
// summaries of every step of a job.
import { accessSync, appendFileSync, constants, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** Throws a UsageError (exit 2) naming the flag when `path` cannot be created or written. */
export function checkWritable(cmd: string, flag: string, path: string): void {
  const where = `isolwatch ${cmd}: ${flag} ${path}`;
  if (path === '') throw new UsageError(`${where}: empty file name`);
  let st;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st) {
    if (st.isDirectory()) throw new UsageError(`${where}: is a directory (give a file name)`);
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new UsageError(`${where}: cannot be written (check its permissions)`);
    }
    return;
  }
  const dir = dirname(resolve(path));
  let d;
  try {
    d = statSync(dir);
  } catch {
    throw new UsageError(`${where}: the directory ${dir} does not exist (create it first)`);
  }
  if (!d.isDirectory()) throw new UsageError(`${where}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`${where}: cannot create files in ${dir} (check its permissions)`);
  }
}

/** An existing file that is not a regular one: a fifo, /dev/stdout. */
function isSpecial(path: string): boolean {
  try {
    return !statSync(path).isFile();
  } catch {
    return false; // does not exist yet
  }
}

/**
 * Checks every output file of a command before anything starts: each can be
 * written (checkWritable), and no two flags name the same file (one report
 * would silently replace the other). A fifo or /dev/stdout may be shared.
 */
export function checkOutputFiles(cmd: string, files: Readonly<Record<string, string | undefined>>): void {
  const seen = new Map<string, string>();
  for (const [flag, path] of Object.entries(files)) {
    if (path === undefined) continue;
    checkWritable(cmd, flag, path);
    const full = resolve(path);
    const other = seen.get(full);
    if (other !== undefined && !isSpecial(full)) throw new UsageError(`isolwatch ${cmd}: ${other} and ${flag} both write ${path}: give each its own file`);
    seen.set(full, flag);
  }
}

/** Writes a whole report: to a temporary file beside it, then renamed over it (a reader never sees half). */
export function writeReport(path: string, text: string): void {
  if (isSpecial(path)) return writeFileSync(path, text); // a fifo or /dev/stdout: write in place
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Appends to a report (the markdown summary: $GITHUB_STEP_SUMMARY is appended to by every step). */
export function appendReport(path: string, text: string): void {
  appendFileSync(path, text);
}
