// Is a command runnable? `run -- CMD` checks before anything is attached, so
// a typo is a one-line usage error (exit 2) instead of a full report of a
// command that never started. Follows execvp's rules: a name with a slash is
// a path, a bare name is looked up in PATH.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Why argv0 cannot be executed, or undefined when it can. */
export function commandProblem(argv0: string, path = process.env.PATH ?? ''): string | undefined {
  if (argv0 === '') return 'the command is empty';
  if (argv0.includes('/')) return fileProblem(argv0);
  const dirs = path.split(delimiter).map((d) => d || '.');
  for (const d of dirs) if (fileProblem(join(d, argv0)) === undefined) return undefined;
  return `'${argv0}' is not found in PATH`;
}

function fileProblem(file: string): string | undefined {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? `'${file}' does not exist` : `'${file}' cannot be read (${code})`;
  }
  if (st.isDirectory()) return `'${file}' is a directory`;
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return `'${file}' is not executable`;
  }
  // root passes X_OK for any file with an x bit anywhere; none at all cannot run
  if ((st.mode & 0o111) === 0) return `'${file}' is not executable`;
  return undefined;
}
