// `isolwatch run -- CMD`: the CI check. Everything that can be wrong with the
// command line (budgets, the command, output paths, --isolate) is refused
// before anything is attached. Then: attach, start CMD pinned to the watched
// CPUs, declare it isolated after the warm-up, judge the window, end CMD when
// the window is over (unless --wait), write the reports, return the verdict's
// exit code.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Command } from '../cli-args.js';
import { EnvironmentError, UsageError } from '../errors.js';
import { checkOutputFiles } from '../output/files.js';
import { writeFileReports } from '../output/index.js';
import { toNdjsonLine } from '../output/ndjson.js';
import { formatStart, formatSummary } from '../output/text.js';
import { chisolPath } from '../paths.js';
import { remedyFor } from '../remedies.js';
import { formatCpuList } from '../system/cpus.js';
import { commandProblem } from '../system/exec.js';
import type { CpuRecord, InterruptionRecord, IsolRecord, OutputRecord } from '../types.js';
import { judge, verdictBlock } from '../verdict/index.js';
import { budgetsFromFlags } from './budgets.js';

export type RunOptions = Extract<Command, { cmd: 'run' }>['opts'];

const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');
const ignore = () => {};

/** Seconds run gives a command it ends after the judged window, between SIGTERM and SIGKILL (default of --grace). */
export const DEFAULT_GRACE_S = 5;

/** The signals that end run itself: forwarded to the command, which run then waits for. */
const ENDING_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export async function run(o: RunOptions): Promise<number> {
  const budgets = budgetsFromFlags(o.budgets);
  // a command that cannot start is a usage error, found before anything is attached
  const problem = commandProblem(o.argv[0]);
  if (problem) throw new UsageError(`isolwatch run: cannot run the command: ${problem}`);
  const files = { '--report': o.report, '--junit': o.junit, '--summary': o.summary, '--perfetto': o.perfetto, '--html': o.html, '--metrics': o.metrics };
  checkOutputFiles('run', files);
  let argv = o.argv;
  if (o.isolate) argv = await isolatedArgv(o.isolate, argv);

  const { openLive } = await import('../live/pipeline.js');
  const live = await openLive({
    cpus: o.cpus,
    probes: o.probes,
    probeDefaults: 'task',
    policy: o.policy,
    enforce: o.enforce,
    obj: o.obj,
    kthreads: o.kthreads,
    command: o.argv.join(' '),
    // the pictures draw every interruption: they get every record
    records: o.records ?? (o.perfetto || o.html ? 'all' : undefined),
    phases: ['warmup', 'judged', 'after'],
  });
  const records: (InterruptionRecord | IsolRecord)[] = [];
  const cpuRecords: CpuRecord[] = [];
  const t0 = process.hrtime.bigint();
  const nowNs = () => Number(process.hrtime.bigint());
  try {
    for (const w of live.warnings) err(`isolwatch: warning: ${w}`);
    if (!o.json) err(formatStart(live.start, { columns: false }));
    const timer = setInterval(() => {
      live.pump((recs) => records.push(...recs));
      for (const c of live.cpuChanges()) {
        cpuRecords.push(c);
        err(`isolwatch run: ${c.online ? `CPU ${c.cpu} is back online: judged again` : `CPU ${c.cpu} went offline (CPU hotplug): nothing can be seen on it until it returns`}`);
      }
    }, 100);

    // run's signal handlers are in place before CMD starts: a script may signal run as soon as CMD
    // has said its first word (seen in CI: a SIGUSR2 that came first killed run, no report)
    let child: ChildProcess | undefined;
    let warmupEndNs: number | undefined;
    let windowEndNs: number | undefined;
    let windowTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    /** the signal run itself ended the command with (not a failure of the command) */
    let endedBy: NodeJS.Signals | undefined;
    let interrupted: NodeJS.Signals | undefined;

    // --duration is over: end the command (SIGTERM, SIGKILL after --grace) unless --wait
    const endCommand = () => {
      if (!child) return;
      if (o.wait || child.exitCode !== null || child.signalCode !== null) {
        if (o.wait) err('isolwatch run: judged window over: waiting for the command to exit (--wait; not judged)');
        return;
      }
      err(`isolwatch run: judged window over: ending the command (SIGTERM, SIGKILL after ${o.grace} s)`);
      endedBy = 'SIGTERM';
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        endedBy = 'SIGKILL';
        child?.kill('SIGKILL');
      }, o.grace * 1000);
    };
    // SIGUSR1 ends the judged window now: a CI script's way to say "the measured phase is over";
    // the script that knows when the phase ends also knows when the command does: run waits for it
    const onUsr1 = () => {
      const now = nowNs();
      if (warmupEndNs === undefined) return err('isolwatch run: SIGUSR1 before the warm-up was over: ignored');
      if (windowEndNs !== undefined && windowEndNs <= now) return;
      windowEndNs = now;
      live.enterPhase('after');
      clearTimeout(windowTimer);
      err('isolwatch run: judged window over (SIGUSR1): waiting for the command to exit (not judged)');
    };
    process.on('SIGUSR1', onUsr1);
    const endWarmup = () => {
      if (warmupEndNs !== undefined) return;
      clearTimeout(warm);
      live.enterPhase('judged');
      warmupEndNs = nowNs();
      const cpus = formatCpuList(live.watched.cpus);
      err(`isolwatch run: warm-up over: judging CPU ${cpus} ${o.window !== undefined ? `for ${o.window} s` : 'until the command exits'}`);
      if (o.window !== undefined) {
        windowEndNs = warmupEndNs + o.window * 1e9;
        windowTimer = setTimeout(() => {
          live.enterPhase('after');
          endCommand();
        }, o.window * 1000);
      }
      declareChild();
    };
    // CMD and its children are judged from the end of the warm-up (which may come before CMD starts)
    const declareChild = () => {
      if (!child?.pid || warmupEndNs === undefined) return;
      live.tracker.declare({ pid: child.pid }, { children: true, ts_ns: warmupEndNs });
      live.enforcer?.updateProcess(child.pid, 'declared'); // every thread, for in-kernel signals
    };
    const warm = setTimeout(endWarmup, o.warmup * 1000);
    // SIGUSR2 ends the warm-up now: "the task has settled" from a script that knows
    process.on('SIGUSR2', endWarmup);
    // ending run ends the command, which run waits for and reports: nothing is left running
    const onEnd = (sig: NodeJS.Signals) => {
      interrupted ??= sig;
      child?.kill(sig);
    };
    for (const s of ENDING_SIGNALS) process.on(s, onEnd);

    const cmd = spawn('taskset', ['-c', live.watched.cpus.join(','), ...argv], { stdio: 'inherit' });
    child = cmd;
    // follow CMD's forks from the start: children forked during the warm-up are declared with it
    if (cmd.pid) live.session.trackProcess(cmd.pid);
    declareChild();
    if (interrupted) cmd.kill(interrupted);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      cmd.on('error', (error) => resolve({ code: 127, signal: null, error }));
      cmd.on('exit', (code, signal) => resolve({ code, signal }));
    });
    for (const s of ENDING_SIGNALS) process.off(s, onEnd);
    // a late SIGUSR1/SIGUSR2 (CMD is gone) must not kill run before the reports are written
    process.off('SIGUSR1', onUsr1).on('SIGUSR1', ignore);
    process.off('SIGUSR2', endWarmup).on('SIGUSR2', ignore);
    clearTimeout(warm);
    clearTimeout(windowTimer);
    clearTimeout(killTimer);
    clearInterval(timer);
    live.detach(); // the last drain, the aggregates and the summary read one final state
    live.pump((recs) => records.push(...recs));
    if (exit.error) err(`isolwatch run: could not start '${o.argv[0]}': ${exit.error.message}`);
    if (warmupEndNs === undefined) err(`isolwatch run: the command ended before the ${o.warmup}s warm-up: nothing was judged as isolated`);
    const endNs = nowNs();
    if (windowEndNs !== undefined && warmupEndNs !== undefined && endNs < windowEndNs) {
      err(`isolwatch run: note: the command ended ${((endNs - warmupEndNs) / 1e9).toFixed(1)} s into the ${o.window} s judged window`);
    }

    // every interruption, counted in the kernel by phase: the records are samples of them
    const aggs = live.aggregates();
    const rows = live.rows(aggs);
    const totals = live.totalRecord(aggs);
    const summary = live.summary(Number(process.hrtime.bigint() - t0) / 1e9, aggs);
    const interruptions = records.filter((r): r is InterruptionRecord => r.type === 'interruption');
    const { policyVerdict } = await import('../enforce/index.js');
    const pv = policyVerdict(live.enforcer, { pid: cmd.pid, signal: exit.signal });
    // the command run ended itself after the window did not fail
    const byRun = endedBy !== undefined && exit.signal === endedBy;
    const judgement = judge({
      rows,
      watchedCpus: live.watched.cpus,
      budgets,
      policy: live.enforcer ? { name: live.enforcer.policy.name, ...pv } : undefined,
      allowSelf: o.allowSelf,
      command: { exit_status: exit.code, signal: byRun ? null : exit.signal, failOnError: !o.allowCmdFailure },
      offlineNs: warmupEndNs === undefined ? undefined : live.hotplug.offlineNs(warmupEndNs, windowEndNs !== undefined && windowEndNs < endNs ? windowEndNs : endNs),
      unjudged:
        warmupEndNs === undefined
          ? `the command ended before the ${o.warmup}s warm-up: nothing was judged (lower --warmup or run longer)`
          : interrupted
            ? `run was interrupted by ${interrupted} before the command ended`
            : undefined,
    });
    if (byRun) judgement.command = { ...judgement.command!, signal: exit.signal, failed: false };
    summary.verdict = verdictBlock(
      judgement,
      warmupEndNs !== undefined ? { from_ns: warmupEndNs, ...(windowEndNs !== undefined && windowEndNs < endNs ? { to_ns: windowEndNs } : {}) } : undefined,
    );
    const start = live.start;
    const isol = records.filter((r): r is IsolRecord => r.type === 'isol');
    writeFileReports({ start, summary, interruptions, isol, cpus: cpuRecords, totals, counters: live.counts(), judgement, remedyFor }, files);
    if (o.json) {
      for (const r of [start, ...records, ...cpuRecords, totals, summary]) process.stdout.write(toNdjsonLine(r as OutputRecord) + '\n');
    } else err(formatSummary(summary, judgement));
    return judgement.pass ? 0 : 1;
  } finally {
    live.close();
  }
}

/** --isolate: the chisol argv that configures and activates PR_ISOL for CMD, or exit 3 on a kernel without the ABI. */
async function isolatedArgv(spec: string, argv: string[]): Promise<string[]> {
  const { parseIsolateSpec, planIsolate, IsolateSpecError } = await import('../isol/isolate.js');
  const { detectPrIsol } = await import('../isol/detect.js');
  const { vmlinuxBtf } = await import('../libbpf/index.js');
  let parsed;
  try {
    parsed = parseIsolateSpec(spec);
  } catch (e) {
    if (e instanceof IsolateSpecError) throw new UsageError(e.message);
    throw e;
  }
  const plan = planIsolate(parsed, detectPrIsol({ hasStructField: (s, f) => vmlinuxBtf().hasStructField(s, f) }), argv, chisolPath());
  if (!plan.ok) throw new EnvironmentError(plan.error);
  return plan.argv;
}
