// bench/RESULTS.md: each benchmark owns one `## <title>` section and replaces
// it when it runs (others are kept as they are), with the machine, kernel,
// date and exact command that produced the numbers.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the first directory above this file with a package.json (src or dist). */
function findRepo(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}
export const REPO = findRepo();
export const RESULTS_FILE = join(REPO, 'bench/RESULTS.md');

const PREAMBLE = `# Benchmark results

Written by the commands in \`bench/\` (see README.md, "Benchmarks"); each one replaces its
own section. Numbers are from shared, noisy 2-vCPU VMs: ratios are measured in one run with
interleaved rounds (A B A B ...), and reported as median (25th–75th percentile).
`;

/**
 * Replaces the section that starts with `## title` (up to the next `## `
 * heading) or appends it. Pure: text in, text out.
 */
export function replaceSection(text: string, title: string, body: string): string {
  const block = `## ${title}\n\n${body.trim()}\n`;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === `## ${title}`);
  if (start < 0) return `${text.replace(/\n*$/, '')}\n\n${block}`;
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end < 0) end = lines.length;
  const before = lines.slice(0, start).join('\n').replace(/\n*$/, '');
  const after = lines.slice(end).join('\n');
  return `${before}\n\n${block}${after ? `\n${after}` : ''}`;
}

export interface Machine {
  cpu: string;
  nproc: number;
  kernel: string;
  date: string;
  load: string;
  /** commit of the tree the numbers come from, "+dirty" when it had uncommitted changes */
  commit: string;
}

export function machine(): Machine {
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    /* os.cpus() then */
  }
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    cpu: model,
    nproc,
    kernel: release(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load: loadavg().map((l) => l.toFixed(2)).join(' '),
    commit: gitCommit(),
  };
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export function machineLines(m: Machine, command: string): string {
  return [
    `- machine: ${m.cpu}, ${m.nproc} CPUs (nproc); kernel ${m.kernel}; isolwatch at ${m.commit}`,
    `- date: ${m.date}; load average at the end: ${m.load}`,
    `- command: \`${command}\``,
  ].join('\n');
}

/** Writes the section into bench/RESULTS.md (created with its preamble if missing). */
export function writeResults(title: string, body: string, file = RESULTS_FILE): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : PREAMBLE;
  writeFileSync(file, replaceSection(text, title, body));
}

/** The command line as typed, for the record. */
export function commandLine(): string {
  const script = process.argv[1]?.replace(`${REPO}/`, '') ?? '';
  return ['node', script, ...process.argv.slice(2)].join(' ');
}
