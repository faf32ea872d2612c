// `isolwatch demo`: a spinner on the watched CPU and labelled disturbers
// from a housekeeping CPU (test/workloads/disturb), so a newcomer's first
// live view shows real causes being attributed. Stops them all on quit.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../errors.js';
import { housekeepingCpus, readCpuTopology } from '../system/cpus.js';
import { resolveCpus } from './live.js';
import { watch } from './watch.js';

export async function demo(o: { cpus?: number[]; duration?: number; json: boolean; probes?: string; policy?: string; enforce: boolean; obj?: string }): Promise<number> {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '../../../test/workloads/bin/disturb');
  if (!existsSync(bin)) throw new EnvironmentError(`demo workload ${bin} is missing: run 'npm run build'`);
  const target = resolveCpus(o.cpus, []).cpus[0];
  const hk = housekeepingCpus(readCpuTopology(), [target]);
  if (!hk.length) throw new EnvironmentError('demo needs a housekeeping CPU besides the watched one');
  const child = spawn(bin, ['--target-cpu', String(target), '--from-cpu', String(hk[0]), '--seconds', String(o.duration ?? 3600), '--no-wait'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    return await watch({ ...o, cpus: [target], pids: [], probes: o.probes ?? 'all' });
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}
