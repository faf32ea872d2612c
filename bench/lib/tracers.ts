// The tracers the overhead and start-up benchmarks compare: isolwatch with a
// probe selection, bpftrace on the same tracepoints (count per CPU), perf, and
// libbpf-tools. Each starts, reports when it is attached, and stops by pid.
import { readdirSync, existsSync } from 'node:fs';
import { CLI, startAndWait, stop, type Started } from './proc.js';

export interface TracerRun {
  started: Started;
  /** What the tracer said at the end (summary line, lost events), for the record. */
  finish(): Promise<{ lost?: number; note?: string }>;
}

export interface Tracer {
  name: string;
  /** What it is compared with, for the tables. */
  about: string;
  /** fraction of the usual operation counts to measure under it (slow tracers: perf trace) */
  scale?: number;
  start(): Promise<TracerRun>;
}

/** tracefs category of a tracepoint name (sys_enter -> raw_syscalls), via /sys/kernel/tracing/events. */
let catIndex: Map<string, string> | undefined;
export function tracepointCategory(name: string): string | undefined {
  if (!catIndex) {
    catIndex = new Map();
    const root = '/sys/kernel/tracing/events';
    if (!existsSync(root)) throw new Error(`${root} is missing: mount tracefs (mount -t tracefs nodev /sys/kernel/tracing) or run 'npm run setup'`);
    for (const cat of readdirSync(root, { withFileTypes: true })) {
      if (!cat.isDirectory()) continue;
      for (const ev of readdirSync(`${root}/${cat.name}`, { withFileTypes: true })) if (ev.isDirectory() && !catIndex.has(ev.name)) catIndex.set(ev.name, cat.name);
    }
  }
  return catIndex.get(name);
}

/** A bpftrace script counting per CPU on the given tracepoints, with a readiness line after attach. */
export function bpftraceCountScript(tracepoints: string[]): string {
  const full = tracepoints.map((t) => {
    const c = tracepointCategory(t);
    if (!c) throw new Error(`tracepoint ${t} has no tracefs event: bpftrace cannot attach to it`);
    return `tracepoint:${c}:${t}`;
  });
  return `${full.join(',\n')} { @[cpu] = count(); }\nBEGIN { printf("ready\\n"); }\n`;
}

/** The tracepoints isolwatch attaches for a --probes selection (from its start record). */
export async function isolwatchTracepoints(probes: string, cpu: number): Promise<{ attached: string[]; missing: string[] }> {
  const r = await startAndWait('node', [CLI, 'watch', '--cpus', String(cpu), '--json', '--probes', probes, '--duration', '0.2'], /"type":"start"/, 60_000);
  const start = JSON.parse(r.line) as { probes: { attached: string[]; missing: string[] } };
  await stop(r.child);
  return start.probes;
}

export function isolwatch(probes: string, cpu: number): Tracer {
  return {
    name: `isolwatch ${probes}`,
    about: `node dist/src/cli.js watch --cpus ${cpu} --json --probes ${probes}`,
    async start() {
      const started = await startAndWait('node', [CLI, 'watch', '--cpus', String(cpu), '--json', '--probes', probes], /"type":"start"/, 60_000);
      return {
        started,
        async finish() {
          await stop(started.child, 'SIGINT');
          const last = started.stdout().trimEnd().split('\n').pop() ?? '';
          try {
            const s = JSON.parse(last) as { type: string; lost_events?: number };
            if (s.type === 'summary') return { lost: s.lost_events };
          } catch {
            /* no summary: reported below */
          }
          return { note: 'no summary record' };
        },
      };
    },
  };
}

export function bpftrace(name: string, tracepoints: string[]): Tracer {
  const script = bpftraceCountScript(tracepoints);
  return {
    name,
    about: `bpftrace, ${tracepoints.length} tracepoints, @[cpu] = count()`,
    async start() {
      const started = await startAndWait('taskset', ['-c', '0', 'bpftrace', '-B', 'line', '-e', script], /^ready$/, 120_000);
      return {
        started,
        async finish() {
          await stop(started.child, 'SIGINT');
          return {};
        },
      };
    },
  };
}

/** A command that prints `readyPattern` once attached, or a fixed settle time for ones that print nothing (perf stat). */
export function command(name: string, about: string, argv: string[], ready: RegExp | number, scale = 1): Tracer {
  return {
    name,
    about,
    scale,
    async start() {
      const started = await startAndWait('taskset', ['-c', '0', ...argv], ready, 120_000);
      return {
        started,
        async finish() {
          await stop(started.child, 'SIGINT');
          return {};
        },
      };
    },
  };
}
