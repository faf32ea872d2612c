// Command-line parsing: argv in, a typed command out, or a UsageError that
// says what was wrong and what to do. Every option is declared once in SPECS
// with its help text: the parser, the error messages and `isolwatch help CMD`
// all read the same table. No I/O here, so it is unit-tested.
import { UsageError } from './errors.js';
import { PROBE_GROUPS } from './live/probes.js';
import { DEFAULT_TOP } from './output/metrics.js';
import { CpuListError, parseCpuList } from './system/cpus.js';
import { didYouMean } from './verdict/suggest.js';
import { DurationError, parseDuration } from './verdict/durations.js';

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
  /** which interruption records reach user space: sampled (counts stay exact) or all */
  records?: 'sampled' | 'all';
}

export type Command =
  | { cmd: 'watch'; opts: CommonOptions & { pids: number[]; duration?: number; /** seconds between aggregate records (--json) */ interval: number } }
  | { cmd: 'record'; opts: CommonOptions & { pids: number[]; duration?: number; output: string } }
  | {
      cmd: 'run';
      opts: CommonOptions & {
        budgets: string[];
        warmup: number;
        /** seconds judged after the warm-up; later interruptions are reported, not judged */
        window?: number;
        /** after the judged window: wait for CMD instead of ending it */
        wait: boolean;
        /** seconds between the SIGTERM and the SIGKILL that end CMD after the judged window */
        grace: number;
        junit?: string;
        report?: string;
        summary?: string;
        /** Chrome/Perfetto JSON trace */
        perfetto?: string;
        /** self-contained HTML report */
        html?: string;
        /** Prometheus metrics of the run (node_exporter textfile collector) */
        metrics?: string;
        allowSelf: boolean;
        allowCmdFailure: boolean;
        isolate?: string;
        argv: string[];
      };
    }
  | { cmd: 'doctor'; opts: { cpus?: number[]; json: boolean; root?: string } }
  | {
      cmd: 'report';
      opts: {
        file: string;
        json: boolean;
        junit?: string;
        summary?: string;
        perfetto?: string;
        html?: string;
        metrics?: string;
        tui: boolean;
        budgets: string[];
        allowSelf: boolean;
        policy?: string;
      };
    }
  | { cmd: 'demo'; opts: CommonOptions & { duration?: number } }
  | {
      cmd: 'serve';
      opts: CommonOptions & {
        listen: ListenAddress;
        /** cause (and violating task) series besides "other" */
        top: number;
        duration?: number;
      };
    }
  | { cmd: 'help'; topic?: string }
  | { cmd: 'version' };

/** Where serve listens: a host name or address (IPv6 without brackets) and a port (0: any free one). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** serve's default address: this machine only; Prometheus elsewhere needs --listen 0.0.0.0:PORT (or a proxy). */
export const DEFAULT_LISTEN: ListenAddress = { host: '127.0.0.1', port: 9476 };

interface Flag {
  /** placeholder of the value ("LIST", "SEC"); absent for a switch */
  value?: string;
  help: string;
  repeatable?: boolean;
  /** another spelling of the same option */
  alias?: string;
}

const F = {
  cpus: { value: 'LIST', help: 'CPUs to watch, kernel list syntax (2-3,8); default: isolated + nohz_full, else the highest CPU (said so)' },
  probes: {
    value: 'GROUPS',
    help: `probe groups: all, default, or edits such as 'default,+syscalls,-faults' (groups: ${Object.keys(PROBE_GROUPS).join(' ')}); syscalls costs every task ~150 ns per syscall: on by default only for run and --pid`,
  },
  json: { help: 'NDJSON records on stdout (without it: the live view on a terminal, a text log otherwise)' },
  policy: { value: 'FILE', help: 'judge and act by a policy (policies/*.yaml); its signals are dry-run unless --enforce' },
  enforce: { help: "really send the policy's signals (needs --policy; never to PID 1, kernel threads, isolwatch itself or tasks out of scope)" },
  kthreads: { help: 'kernel threads are victims too: their preemptions are recorded (default: only user tasks)' },
  obj: { value: 'FILE', help: 'load this BPF object instead of the installed one (development)' },
  pid: { value: 'PID[,PID..]', help: 'watch these processes (declared isolated): only their interruptions are shown; stops when they exit' },
  duration: { value: 'SEC', help: 'stop after SEC (a number of seconds, or a duration: 90s, 2m, 500ms)' },
  records: {
    value: 'sampled|all',
    help: "which interruption records reach user space. sampled (default; record: all): the first of each kind (CPU, class, what ran, victim, sender) and up to 10 a second more; every count, total, top cause and verdict comes from the kernel's aggregates either way. all: every record; what does not fit the ring is counted in the summary",
  },
  perfetto: {
    value: 'FILE',
    help: 'a timeline in the Chrome/Perfetto JSON trace format (open it in ui.perfetto.dev or chrome://tracing): a slice per interruption, arrows from senders',
  },
  html: { value: 'FILE', help: 'one self-contained HTML page: verdict, zoomable timeline, stolen-time histograms, top causes with remedies (no network needed)' },
  metrics: {
    value: 'FILE',
    help: "the run's Prometheus metrics (as serve exposes them) for node_exporter's textfile collector: written whole, through a temporary file renamed over FILE (name it *.prom)",
  },
} satisfies Record<string, Flag>;

const COMMON: Record<string, Flag> = {
  '--cpus': F.cpus,
  '--probes': F.probes,
  '--json': F.json,
  '--policy': F.policy,
  '--enforce': F.enforce,
  '--kthreads': F.kthreads,
  '--records': F.records,
  '--obj': F.obj,
};

interface Spec {
  usage: string;
  about: string;
  flags: Record<string, Flag>;
  /** more to say after the options */
  more?: string;
}

const SPECS: Record<string, Spec> = {
  watch: {
    usage: 'isolwatch [watch] [--cpus LIST] [--pid PID[,PID..]] [--duration SEC] [--json] [--probes GROUPS] [--policy FILE [--enforce]] [--kthreads]',
    about: 'live view on a terminal (q quits); a text log when stdout is not a terminal; NDJSON with --json',
    flags: {
      ...COMMON,
      '--pid': F.pid,
      '--duration': F.duration,
      '--interval': { value: 'SEC', help: 'with --json: an aggregate record of what changed every SEC (default 10), and one of the totals at the end' },
    },
  },
  record: {
    usage: 'isolwatch record -o FILE [watch options]',
    about: "write the raw record stream to FILE; 'isolwatch report FILE' replays it through the same engine",
    flags: { ...COMMON, '--pid': F.pid, '--duration': F.duration, '-o': { value: 'FILE', help: 'the recording to write (a file; for a stream on stdout use watch --json)', alias: '--output' } },
  },
  run: {
    usage: 'isolwatch run [options] -- CMD [ARGS..]',
    about:
      'start CMD pinned to the watched CPUs, declare it isolated after --warmup, judge --duration SEC (default: until it exits), end it, and exit 0 (pass) or 1 (fail)',
    flags: {
      ...COMMON,
      '--budget': {
        value: 'SPEC',
        repeatable: true,
        help: "allowed while isolated: CLASS=N,..., total=N, stolen=DUR. Without --budget (and without --policy) every class is held to 0; classes not named stay at 0; total=/stolen= alone replace the per-class zeros",
      },
      '--warmup': { value: 'SEC', help: 'attach, start CMD, and judge only after SEC (default 1); SIGUSR2 to run ends it early' },
      '--duration': {
        value: 'SEC',
        help: 'judge SEC after the warm-up, then end CMD (SIGTERM, SIGKILL after --grace); default: until CMD exits. SIGUSR1 to run ends the window early (run then waits for CMD)',
      },
      '--wait': { help: 'after the --duration window, wait for CMD to exit instead of ending it (what follows is not judged)' },
      '--grace': { value: 'SEC', help: `seconds between the SIGTERM and the SIGKILL that end CMD after the window (default ${5})` },
      '--junit': { value: 'FILE', help: 'JUnit XML report' },
      '--report': { value: 'FILE', help: 'NDJSON report (start, records, summary with the verdict)' },
      '--summary': { value: 'FILE', help: 'markdown summary, appended (for $GITHUB_STEP_SUMMARY)' },
      '--perfetto': F.perfetto,
      '--html': F.html,
      '--metrics': F.metrics,
      '--allow-self': { help: "the task's own syscalls and page faults do not count" },
      '--allow-cmd-failure': { help: 'a failing CMD does not fail the check by itself' },
      '--isolate': { value: 'quiesce=vmstat[,inherit=conf|active]', help: 'configure and activate PR_ISOL for CMD (only on kernels with the task-isolation ABI; elsewhere exit 3)' },
    },
    more: 'SIGINT, SIGTERM and SIGHUP to run are passed to CMD; run waits for it and reports (an interrupted run fails).',
  },
  doctor: {
    usage: 'isolwatch doctor [--cpus LIST] [--json]',
    about: "audit the machine's isolation set-up (kernel, boot parameters, IRQs, workqueues, sysctls, hypervisor) and name the remedy for each finding; exit 1 when a finding is above info",
    flags: { '--cpus': F.cpus, '--json': { help: 'the report as one JSON object' }, '--root': { value: 'DIR', help: "audit the system tree under DIR instead of '/' (an image or a fixture)" } },
  },
  report: {
    usage: 'isolwatch report FILE [--json | --junit FILE | --summary FILE | --perfetto FILE | --html FILE | --metrics FILE | --tui] [--budget SPEC] [--policy FILE] [--allow-self]',
    about:
      'replay a recording through the same engine and judge it as run would: text, NDJSON, JUnit, markdown, a Perfetto trace, an HTML page, Prometheus metrics or the live view; exit 0 (pass) or 1 (fail)',
    flags: {
      '--json': { help: 'NDJSON records, the summary with its verdict last' },
      '--junit': { value: 'FILE', help: 'JUnit XML report' },
      '--summary': { value: 'FILE', help: 'markdown summary, appended' },
      '--perfetto': F.perfetto,
      '--html': F.html,
      '--metrics': F.metrics,
      '--tui': { help: 'the live view on the recording (needs a terminal)' },
      '--budget': { value: 'SPEC', repeatable: true, help: 'limits as for run (default: the recorded policy judges, else every class <=0)' },
      '--policy': { value: 'FILE', help: 'judge by this policy instead of the one recorded (actions are never taken in a replay)' },
      '--allow-self': { help: "the task's own syscalls and page faults do not count" },
    },
  },
  serve: {
    usage: 'isolwatch serve [--listen HOST:PORT] [--cpus LIST] [--probes GROUPS] [--top N] [--policy FILE [--enforce]]',
    about: `a Prometheus exporter: traces the watched CPUs headless (log on stderr) and answers /metrics (the kernel's counts, top causes, violations) and /healthz on ${DEFAULT_LISTEN.host}:${DEFAULT_LISTEN.port} by default; SIGTERM or SIGINT detaches and exits 0`,
    flags: {
      '--listen': {
        value: 'HOST:PORT',
        help: `the address to serve on (default ${DEFAULT_LISTEN.host}:${DEFAULT_LISTEN.port}: this machine only; 0.0.0.0:${DEFAULT_LISTEN.port} for a Prometheus elsewhere; [::1]:PORT for IPv6; port 0 picks a free one, said on stderr)`,
      },
      '--cpus': F.cpus,
      '--probes': F.probes,
      '--top': { value: 'N', help: `causes (and violating tasks) with series of their own: the costliest of late (a cost halves every 15 minutes); the rest are summed per CPU and class under "other" (default ${DEFAULT_TOP})` },
      '--policy': { value: 'FILE', help: "act by a policy (policies/*.yaml): its actions are counted in isolwatch_policy_actions_total; signals are dry-run unless --enforce. Every record then reaches user space, as for watch --policy" },
      '--enforce': F.enforce,
      '--kthreads': F.kthreads,
      '--duration': { value: 'SEC', help: 'stop after SEC (default: until SIGTERM or SIGINT)' },
      '--obj': F.obj,
    },
    more: 'Metrics are read from the kernel at each scrape (nothing is computed between scrapes): a scrape costs in proportion to the series and the kernel\'s aggregate keys, not to the events.',
  },
  demo: {
    usage: 'isolwatch demo [--cpus CPU] [--duration SEC] [--probes GROUPS] [--json]',
    about: 'a spinner on the watched CPU and labelled disturbers from a housekeeping CPU (membarrier, munmap, stat_refresh, its own syscalls), in the live view',
    flags: { '--cpus': { value: 'CPU', help: 'the one CPU the spinner runs on and isolwatch watches (default as for watch)' }, '--probes': F.probes, '--json': F.json, '--duration': F.duration, '--obj': F.obj },
  },
};

const COMMANDS = [...Object.keys(SPECS), 'help'];

/** The value flags of a command, with aliases resolved to their option. */
function flagOf(spec: Spec, name: string): [string, Flag] | undefined {
  if (spec.flags[name]) return [name, spec.flags[name]];
  const alias = Object.entries(spec.flags).find(([, f]) => f.alias === name);
  return alias ? [alias[0], alias[1]] : undefined;
}

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
      const given = eq > 0 ? a.slice(0, eq) : a;
      const found = flagOf(spec, given);
      if (!found) {
        const names = Object.keys(spec.flags);
        throw new UsageError(`isolwatch ${cmd}: unknown option '${given}'${didYouMean(given, names)} (see 'isolwatch help ${cmd}')`);
      }
      const [name, flag] = found;
      let v = 'true';
      if (flag.value) {
        if (eq > 0) v = a.slice(eq + 1);
        else {
          if (i + 1 >= args.length) throw new UsageError(`isolwatch ${cmd}: option '${given}' needs a value (${flag.value})`);
          v = args[++i];
        }
      } else if (eq > 0) throw new UsageError(`isolwatch ${cmd}: option '${given}' takes no value`);
      const prev = values.get(name);
      if (prev && !flag.repeatable) throw new UsageError(`isolwatch ${cmd}: option '${name}' given twice`);
      values.set(name, [...(prev ?? []), v]);
    } else rest.push(a);
  }
  return { values, rest, dashdash };
}

function one(values: Map<string, string[]>, name: string): string | undefined {
  return values.get(name)?.[0];
}

/** A time flag: a number of seconds or a duration ("90s", "2m", "500ms"), in seconds. */
function seconds(cmd: string, name: string, v: string | undefined, opts: { positive?: boolean } = {}): number | undefined {
  if (v === undefined) return undefined;
  let ns: number;
  try {
    ns = parseDuration(v, 's');
  } catch (e) {
    if (e instanceof DurationError) throw new UsageError(`isolwatch ${cmd}: ${name} '${v}' is not a number of seconds or a duration (e.g. ${name} 10, 90s, 2m)`);
    throw e;
  }
  if (opts.positive && ns === 0) throw new UsageError(`isolwatch ${cmd}: ${name} ${v}: must be longer than 0 s`);
  return ns / 1e9;
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

/**
 * serve --listen: "HOST:PORT", "[v6]:PORT"; the default when not given. The
 * port is checked here, the host when serve binds it (a name that does not
 * resolve, an address this machine does not have: one line, exit 2).
 */
export function parseListen(v: string | undefined): ListenAddress {
  if (v === undefined) return { ...DEFAULT_LISTEN };
  const bad = (why: string) => new UsageError(`isolwatch serve: --listen '${v}': ${why} (e.g. --listen ${DEFAULT_LISTEN.host}:${DEFAULT_LISTEN.port}, 0.0.0.0:${DEFAULT_LISTEN.port}, [::1]:${DEFAULT_LISTEN.port})`);
  const m = /^\[([^\]]+)\]:([^:]*)$/.exec(v) ?? /^([^:[\]]*):([^:]*)$/.exec(v);
  if (!m) throw bad(v.includes(':') && !v.startsWith('[') ? 'an IPv6 address goes in brackets' : 'expected HOST:PORT');
  const [, host, port] = m;
  if (host === '') throw bad('no host: give an address (0.0.0.0 for every IPv4 interface)');
  if (!/^\d+$/.test(port) || Number(port) > 65535) throw bad(`'${port}' is not a port number (0-65535)`);
  return { host, port: Number(port) };
}

function common(cmd: string, values: Map<string, string[]>): CommonOptions {
  const o: CommonOptions = {
    cpus: cpus(cmd, one(values, '--cpus')),
    probes: one(values, '--probes'),
    json: values.has('--json'),
    policy: one(values, '--policy'),
    enforce: values.has('--enforce'),
    obj: one(values, '--obj'),
    kthreads: values.has('--kthreads'),
  };
  const records = one(values, '--records');
  if (records !== undefined) {
    if (records !== 'sampled' && records !== 'all') throw new UsageError(`isolwatch ${cmd}: --records '${records}': expected sampled or all${didYouMean(records, ['sampled', 'all'])}`);
    o.records = records;
  }
  if (o.enforce && !o.policy) throw new UsageError(`isolwatch ${cmd}: --enforce needs --policy FILE (it sends the policy's signals)`);
  return o;
}

export function parseArgs(argv: string[]): Command {
  if (argv.length === 0) return { cmd: 'watch', opts: { ...common('watch', new Map()), pids: [], interval: 10 } };
  const first = argv[0];
  if (first === '--help' || first === '-h') return { cmd: 'help' };
  if (first === '--version' || first === '-V') return { cmd: 'version' };
  if (first === 'help') {
    const topic = argv[1];
    if (topic !== undefined && !SPECS[topic]) throw new UsageError(`isolwatch help: no command '${topic}'${didYouMean(topic, Object.keys(SPECS))} (commands: ${Object.keys(SPECS).join(', ')})`);
    return topic === undefined ? { cmd: 'help' } : { cmd: 'help', topic };
  }
  const cmd = COMMANDS.includes(first) ? first : first.startsWith('-') ? 'watch' : undefined;
  if (!cmd) throw new UsageError(`isolwatch: unknown command '${first}'${didYouMean(first, COMMANDS)} (commands: ${COMMANDS.join(', ')}); see 'isolwatch help'`);
  const args = cmd === first ? argv.slice(1) : argv;
  const dd = args.indexOf('--');
  const own = dd >= 0 ? args.slice(0, dd) : args;
  if (own.includes('--help') || own.includes('-h')) return { cmd: 'help', topic: cmd };
  const { values, rest, dashdash } = parseFlags(cmd, args);

  switch (cmd) {
    case 'watch':
    case 'record': {
      if (rest.length) throw new UsageError(`isolwatch ${cmd}: unexpected argument '${rest[0]}'`);
      const base = { ...common(cmd, values), pids: pids(cmd, one(values, '--pid')), duration: seconds(cmd, '--duration', one(values, '--duration'), { positive: true }) };
      if (cmd === 'watch') return { cmd, opts: { ...base, interval: seconds(cmd, '--interval', one(values, '--interval'), { positive: true }) ?? 10 } };
      const output = one(values, '-o');
      if (!output) throw new UsageError('isolwatch record: -o FILE is required (where to write the recording)');
      if (output === '-') throw new UsageError("isolwatch record: -o -: a recording is written to a file (for records on stdout use 'isolwatch watch --json')");
      return { cmd, opts: { ...base, output } };
    }
    case 'run': {
      if (rest.length) throw new UsageError(`isolwatch run: unexpected argument '${rest[0]}': put the command after '--' (isolwatch run [options] -- CMD ARGS..)`);
      if (dashdash.length === 0) throw new UsageError('isolwatch run: no command given: isolwatch run [options] -- CMD ARGS..');
      return {
        cmd,
        opts: {
          ...common(cmd, values),
          budgets: values.get('--budget') ?? [],
          warmup: seconds(cmd, '--warmup', one(values, '--warmup')) ?? 1,
          window: seconds(cmd, '--duration', one(values, '--duration'), { positive: true }),
          wait: values.has('--wait'),
          grace: seconds(cmd, '--grace', one(values, '--grace')) ?? 5,
          junit: one(values, '--junit'),
          report: one(values, '--report'),
          summary: one(values, '--summary'),
          perfetto: one(values, '--perfetto'),
          html: one(values, '--html'),
          metrics: one(values, '--metrics'),
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
      if (rest.length !== 1) throw new UsageError(`isolwatch report: give exactly one recording: ${SPECS.report.usage}`);
      const tui = values.has('--tui');
      if (tui && ['--json', '--junit', '--summary', '--perfetto', '--html', '--metrics'].some((f) => values.has(f))) {
        throw new UsageError('isolwatch report: --tui cannot be combined with --json, --junit, --summary, --perfetto, --html or --metrics');
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
          metrics: one(values, '--metrics'),
          tui,
          budgets: values.get('--budget') ?? [],
          allowSelf: values.has('--allow-self'),
          policy: one(values, '--policy'),
        },
      };
    }
    case 'serve': {
      if (rest.length) throw new UsageError(`isolwatch serve: unexpected argument '${rest[0]}'`);
      const top = one(values, '--top');
      if (top !== undefined && !/^\d+$/.test(top)) throw new UsageError(`isolwatch serve: --top '${top}' is not a whole number of series (e.g. --top ${DEFAULT_TOP})`);
      return {
        cmd,
        opts: {
          ...common(cmd, values),
          listen: parseListen(one(values, '--listen')),
          top: top === undefined ? DEFAULT_TOP : Number(top),
          duration: seconds(cmd, '--duration', one(values, '--duration'), { positive: true }),
        },
      };
    }
    case 'demo': {
      if (rest.length) throw new UsageError(`isolwatch demo: unexpected argument '${rest[0]}'`);
      const c = cpus(cmd, one(values, '--cpus'));
      if (c && c.length > 1) throw new UsageError(`isolwatch demo: --cpus ${one(values, '--cpus')}: the demo runs its spinner on one CPU: give one`);
      return {
        cmd,
        opts: {
          cpus: c,
          probes: one(values, '--probes'),
          json: values.has('--json'),
          enforce: false,
          obj: one(values, '--obj'),
          kthreads: false,
          duration: seconds(cmd, '--duration', one(values, '--duration'), { positive: true }),
        },
      };
    }
    default:
      return { cmd: 'help' };
  }
}

function wrap(text: string, indent: number, width = 80): string[] {
  const out: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur && cur.length + 1 + w.length > width - indent) {
      out.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(cur);
  return out;
}

/** `isolwatch help CMD` / `isolwatch CMD --help`: usage, what it does, every option. */
export function helpFor(cmd: string): string {
  const s = SPECS[cmd];
  const lines = [`usage: ${s.usage}`, '', ...wrap(s.about, 0), '', 'options:'];
  for (const [name, f] of Object.entries(s.flags)) {
    const head = `  ${name}${f.alias ? `, ${f.alias}` : ''}${f.value ? ` ${f.value}` : ''}${f.repeatable ? ' (repeatable)' : ''}`;
    lines.push(head);
    for (const l of wrap(f.help, 6)) lines.push(`      ${l}`);
  }
  if (s.more) lines.push('', ...wrap(s.more, 0));
  lines.push('', ...wrap(EXIT_CODES, 0));
  return lines.join('\n') + '\n';
}

const EXIT_CODES =
  'exit codes: 0 clean/pass, 1 violations over budget or a policy\'s fail action (doctor: findings above info), 2 usage or configuration error, 3 the environment cannot run isolwatch (not root or without CAP_BPF+CAP_PERFMON, no libbpf, no BTF)';

/** `isolwatch --help`: every command, one line each. */
export const HELP = [
  'isolwatch — what entered the kernel on my isolated CPU, who caused it, and how to stop it',
  '',
  'usage:',
  ...Object.values(SPECS).map((s) => `  ${s.usage}`),
  "  isolwatch --version    version, the BPF object's ABI, the libbpf found (never loaded)",
  '',
  ...Object.entries(SPECS).flatMap(([name, s]) => wrap(s.about, 9).map((l, i) => (i === 0 ? `${name.padEnd(9)}${l}` : `         ${l}`))),
  '',
  "'isolwatch help CMD' (or 'isolwatch CMD --help') lists CMD's options.",
  '',
  ...wrap(EXIT_CODES, 0),
  '',
].join('\n');
