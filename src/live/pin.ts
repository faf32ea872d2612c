// isolwatch's own threads stay on housekeeping CPUs: the tool must not
// disturb the CPUs it measures (DESIGN.md, rules of the road).
import { execFileSync } from 'node:child_process';

/** Keeps isolwatch's own threads off the watched CPUs (taskset -a: every thread). */
export function pinSelfTo(cpus: number[]): string | undefined {
  if (cpus.length === 0) return 'no housekeeping CPU left: isolwatch runs on a watched CPU and will disturb it';
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(process.pid)], { stdio: 'ignore' });
    return undefined;
  } catch (e) {
    return `could not move isolwatch to housekeeping CPUs ${cpus.join(',')}: ${(e as Error).message}`;
  }
}
