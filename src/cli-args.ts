// Command-line parsing: argv in, a typed command out, or a UsageError that
// says what was wrong and what to do. No I/O here, so it is unit-tested.
import { parseCpuList, CpuListError } from './system/cpus.js';

import { UsageError } from './errors.js';

export { UsageError };

export interface CommonOptions {
  cpus?: number[];
  probes?: string;
  json: boolean;
  policy?: string;
  enforce: boolean;
  obj?: string;
  /** kernel threads are victims too (preemptions of a kernel-thread workload, e.g. osnoise's) */
  kthreads: boolean;
}

export type Command =
  | { cmd: 'watch'; opts: CommonOptions & { pids: number[]; duration?: number } }
  | { cmd: 'record'; opts: CommonOptions & { pids: number[]; duration?: number; output: string } }
  | {
      cmd: 'run';
      opts: CommonOptions & {
        budgets: string[];
        warmup: number;
        /** seconds judged after the warm-up; later interruptions are reported, not judged */
        window?: number;
        junit?: string;
        report?: string;
        summary?: string;
        /** Chrome/Perfetto JSON trace */
        perfetto?: string;
        /** self-contained HTML report */
        html?: string;
        allowSelf: boolean;
        allowCmdFailure: boolean;
        isolate?: string;
        argv: string[];
      };
    }
  | { cmd: 'doctor'; opts: { cpus?: number[]; json: boolean; root?: string } }
  | {
      cmd: 'report';
      opts: { file: string; json: boolean; junit?: string; summary?: string; perfetto?: string; html?: string; tui: boolean; budgets: string[]; allowSelf: boolean };
    }
  | { cmd: 'demo'; opts: CommonOptions & { duration?: number } }
  | { cmd: 'help'; topic?: string }
  | { cmd: 'version' };

const COMMANDS = ['watch', 'run', 'doctor', 'record', 'report', 'demo', 'help'];

interface Spec {
  /** flag -> takes a value */
  flags: Record<string, boolean>;
  repeatable?: string[];
}

const COMMON: Record<string, boolean> = { '--cpus': true, '--probes': true, '--json': false, '--policy': true, '--enforce': false, '--obj': true, '--kthreads': false };
const SPECS: Record<string, Spec> = {
  watch: { flags: { ...COMMON, '--pid': true, '--duration': true } },
  record: { flags: { ...COMMON, '--pid': true, '--duration': true, '-o': true, '--output': true } },
  run: {
    flags: {
      ...COMMON,
      '--budget': true,
      '--warmup': true,
      '--duration': true,
      '--junit': true,
      '--report': true,
      '--summary': true,
      '--perfetto': true,
      '--html': true,
      '--allow-self': false,
      '--allow-cmd-failure': false,
      '--isolate': true,
    },
    repeatable: ['--budget'],
  },
  doctor: { flags: { '--cpus': true, '--json': false, '--root': true } },
  report: {
    flags: { '--json': false, '--junit': true, '--summary': true, '--perfetto': true, '--html': true, '--tui': false, '--budget': true, '--allow-self': false },
    repeatable: ['--budget'],
  },
  demo: { flags: { ...COMMON, '--duration': true } },
};

function parseFlags(cmd: string, args: string[]): { values: Map<string, string[]>; rest: string[]; dashdash: string[] } {
  const spec = SPECS[cmd];
  const values = new Map<string, string[]>();
  const rest: string[] = [];
  let dashdash: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      dashdash = args.slice(i + 1);
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (!(name in spec.flags)) {
        const known = Object.keys(spec.flags).sort().join(' ');
        throw new UsageError(`isolwatch ${cmd}: unknown option '${name}' (options: ${known}); see 'isolwatch help ${cmd}'`);
      }
      let v = 'true';
      if (spec.flags[name]) {
        if (eq > 0) v = a.slice(eq + 1);
        else {
          if (i + 1 >= args.length) throw new UsageError(`isolwatch ${cmd}: option '${name}' needs a value`);
          v = args[++i];
        }
      } else if (eq > 0) throw new UsageError(`isolwatch ${cmd}: option '${name}' takes no value`);
      const prev = values.get(name);
      if (prev && !spec.repeatable?.includes(name)) throw new UsageError(`isolwatch ${cmd}: option '${name}' given twice`);
      values.set(name, [...(prev ?? []), v]);
    } else rest.push(a);
  }
  return { values, rest, dashdash };
}

function one(values: Map<string, string[]>, name: string): string | undefined {
  return values.get(name)?.[0];
}

function seconds(cmd: string, name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/s$/, ''));
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`isolwatch ${cmd}: ${name} '${v}' is not a number of seconds (e.g. ${name} 10)`);
  return n;
}

function cpus(cmd: string, v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  try {
    const list = parseCpuList(v);
    if (list.length === 0) throw new UsageError(`isolwatch ${cmd}: --cpus '${v}' is empty`);
    return list;
  } catch (e) {
    if (e instanceof CpuListError) throw new UsageError(`isolwatch ${cmd}: --cpus: ${e.message}`);
    throw e;
  }
}

function pids(cmd: string, v: string | undefined): number[] {
  if (v === undefined) return [];
  return v.split(',').map((p) => {
    if (!/^\d+$/.test(p.trim()) || Number(p) <= 0) throw new UsageError(`isolwatch ${cmd}: --pid '${v}': '${p}' is not a process id`);
    return Number(p);
  });
}

function common(cmd: string, values: Map<string, string[]>): CommonOptions {
  return {
    cpus: cpus(cmd, one(values, '--cpus')),
    probes: one(values, '--probes'),
    json: values.has('--json'),
    policy: one(values, '--policy'),
    enforce: values.has('--enforce'),
    obj: one(values, '--obj'),
    kthreads: values.has('--kthreads'),
  };
}

export function parseArgs(argv: string[]): Command {
  if (argv.length === 0) return { cmd: 'watch', opts: { ...common('watch', new Map()), pids: [] } };
  const first = argv[0];
  if (first === '--help' || first === '-h') return { cmd: 'help' };
  if (first === '--version' || first === '-V') return { cmd: 'version' };
  if (first === 'help') return { cmd: 'help', topic: argv[1] };
  const cmd = COMMANDS.includes(first) ? first : first.startsWith('-') ? 'watch' : undefined;
  if (!cmd) throw new UsageError(`isolwatch: unknown command '${first}' (commands: ${COMMANDS.join(', ')}); see 'isolwatch help'`);
  const args = cmd === first ? argv.slice(1) : argv;
  if (args.includes('--help') || args.includes('-h')) return { cmd: 'help', topic: cmd };
  const { values, rest, dashdash } = parseFlags(cmd, args);

  switch (cmd) {
    case 'watch':
    case 'record': {
      if (rest.length) throw new UsageError(`isolwatch ${cmd}: unexpected argument '${rest[0]}'`);
      const base = { ...common(cmd, values), pids: pids(cmd, one(values, '--pid')), duration: seconds(cmd, '--duration', one(values, '--duration')) };
      if (cmd === 'watch') return { cmd, opts: base };
      const output = one(values, '-o') ?? one(values, '--output');
      if (!output) throw new UsageError('isolwatch record: -o FILE is required (where to write the recording)');
      return { cmd, opts: { ...base, output } };
    }
    case 'run': {
      if (rest.length) throw new UsageError(`isolwatch run: unexpected argument '${rest[0]}': put the command after '--' (isolwatch run [options] -- CMD ARGS..)`);
      if (dashdash.length === 0) throw new UsageError("isolwatch run: no command given: isolwatch run [options] -- CMD ARGS..");
      return {
        cmd,
        opts: {
          ...common(cmd, values),
          budgets: values.get('--budget') ?? [],
          warmup: seconds(cmd, '--warmup', one(values, '--warmup')) ?? 1,
          window: seconds(cmd, '--duration', one(values, '--duration')),
          junit: one(values, '--junit'),
          report: one(values, '--report'),
          summary: one(values, '--summary'),
          perfetto: one(values, '--perfetto'),
          html: one(values, '--html'),
          allowSelf: values.has('--allow-self'),
          allowCmdFailure: values.has('--allow-cmd-failure'),
          isolate: one(values, '--isolate'),
          argv: dashdash,
        },
      };
    }
    case 'doctor':
      if (rest.length) throw new UsageError(`isolwatch doctor: unexpected argument '${rest[0]}'`);
      return { cmd, opts: { cpus: cpus(cmd, one(values, '--cpus')), json: values.has('--json'), root: one(values, '--root') } };
    case 'report': {
      if (rest.length !== 1) {
        throw new UsageError('isolwatch report: give exactly one recording: isolwatch report FILE [--json | --junit FILE | --summary FILE | --perfetto FILE | --html FILE | --tui]');
      }
      const tui = values.has('--tui');
      if (tui && ['--json', '--junit', '--summary', '--perfetto', '--html'].some((f) => values.has(f))) {
        throw new UsageError('isolwatch report: --tui cannot be combined with --json, --junit, --summary, --perfetto or --html');
      }
      return {
        cmd,
        opts: {
          file: rest[0],
          json: values.has('--json'),
          junit: one(values, '--junit'),
          summary: one(values, '--summary'),
          perfetto: one(values, '--perfetto'),
          html: one(values, '--html'),
          tui,
          budgets: values.get('--budget') ?? [],
          allowSelf: values.has('--allow-self'),
        },
      };
    }
    case 'demo':
      return { cmd, opts: { ...common(cmd, values), duration: seconds(cmd, '--duration', one(values, '--duration')) } };
    default:
      return { cmd: 'help' };
  }
}

export const HELP = `isolwatch — what entered the kernel on my isolated CPU, who caused it, and how to stop it

usage:
  isolwatch [watch] [--cpus LIST] [--pid PID[,PID..]] [--duration SEC] [--json]
                    [--probes GROUPS] [--policy FILE] [--enforce] [--kthreads]
  isolwatch run [--cpus LIST] [--policy FILE] [--enforce] [--budget CLASS=N,..|stolen=DUR] [--warmup SEC]
                [--duration SEC] [--junit FILE] [--report FILE] [--summary FILE] [--perfetto FILE]
                [--html FILE] [--allow-self] [--allow-cmd-failure] [--isolate quiesce=vmstat[,inherit=conf|active]]
                [--probes GROUPS] -- CMD [ARGS..]
  isolwatch doctor [--cpus LIST] [--json]
  isolwatch record -o FILE [watch options]
  isolwatch report FILE [--json | --junit FILE | --summary FILE | --perfetto FILE | --html FILE | --tui]
                        [--budget ..]
  isolwatch demo [--cpus LIST] [--duration SEC]

watch    live view on a terminal (q quits), NDJSON when stdout is not a terminal or with --json
run      start CMD pinned to the watched CPUs, declare it isolated after --warmup (default 1 s),
         judge for --duration SEC (default: until it exits; what follows, e.g. CMD's own exit
         path, is reported, not judged), against budgets (default: zero interruptions)
doctor   audit the isolation set-up (boot parameters, IRQ affinity, sysctls) with remedies
record   write the raw record stream to FILE; 'report FILE' replays it through the same engine
demo     a spinner on the watched CPU and labelled disturbers from a housekeeping CPU

--cpus LIST      CPUs to watch (default: isolated + nohz_full; else the highest CPU, said so)
--probes GROUPS  probe groups: all, default, or a list with +/-, e.g. 'default,+syscalls'
                 (core vectors timers ipi work wakeup faults nmi syscalls ctxtrack);
                 syscalls costs every task ~150 ns per syscall: on by default only for
                 run and --pid
--policy FILE    a policy (policies/*.yaml); actions are dry-run unless --enforce
--kthreads       kernel threads are victims too: their preemptions are recorded (by default
                 only user tasks are; use it for a kernel-thread workload such as osnoise's)
--perfetto FILE  run/report: a timeline in the Chrome/Perfetto JSON trace format (open it in
                 ui.perfetto.dev or chrome://tracing): a slice per interruption, arrows from senders
--html FILE      run/report: one self-contained HTML page: verdict, zoomable timeline, stolen-time
                 histograms, top causes with remedies (no network needed)
--enforce        send the policy's signals (never to PID 1, kernel threads, isolwatch itself
                 or tasks out of the policy's scope); a fail action exits 1 either way

exit codes: 0 clean/pass, 1 violations over budget or a policy's fail action (doctor: findings), 2 usage or
configuration error, 3 environment cannot run (not root, no BPF, no BTF)
`;
