// `isolwatch run -- CMD`: the CI check. Attach first, start CMD pinned to the
// watched CPUs, declare it isolated after the warm-up, watch until it exits,
// judge against the budgets, write the reports, return the exit code.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { judgeRun } from '../budget.js';
import type { Command } from '../cli-args.js';
import { UsageError } from '../errors.js';
import { detectPrIsol } from '../isol/detect.js';
import { parseIsolateSpec, planIsolate, IsolateSpecError } from '../isol/isolate.js';
import { vmlinuxBtf } from '../libbpf/index.js';
import { toJunit } from '../output/junit.js';
import { toMarkdown } from '../output/markdown.js';
import { toNdjsonLine } from '../output/ndjson.js';
import { formatStart, formatSummary } from '../output/text.js';
import { remedyFor } from '../remedies.js';
import { formatCpuList } from '../system/cpus.js';
import { commandProblem } from '../system/exec.js';
import type { InterruptionRecord, IsolRecord, OutputRecord } from '../types.js';
import { budgetsFromFlags } from './budgets.js';
import { policyVerdict } from '../enforce/index.js';
import { openLive } from '../live/pipeline.js';
import { chisolPath } from '../paths.js';
import { EnvironmentError } from '../errors.js';
import { checkOutputPaths } from './output-paths.js';
import { writePictures } from './pictures.js';

export type RunOptions = Extract<Command, { cmd: 'run' }>['opts'];

const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');
const ignore = () => {};

export async function run(o: RunOptions): Promise<number> {
  const budgets = budgetsFromFlags(o.budgets);
  checkOutputPaths('run', { '--junit': o.junit, '--report': o.report, '--summary': o.summary, '--perfetto': o.perfetto, '--html': o.html });
  if (o.window !== undefined && o.window <= 0) throw new UsageError(`isolwatch run: --duration ${o.window}: the judged window must be longer than 0 s`);
  // a command that cannot start is a usage error, found before anything is attached
  const problem = commandProblem(o.argv[0]);
  if (problem) throw new UsageError(`isolwatch run: cannot run the command: ${problem}`);
  // refuse --isolate before anything is attached or started
  let argv = o.argv;
  if (o.isolate) {
    let spec;
    try {
      spec = parseIsolateSpec(o.isolate);
    } catch (e) {
      if (e instanceof IsolateSpecError) throw new UsageError(e.message);
      throw e;
    }
    const detection = detectPrIsol({ hasStructField: (s, f) => vmlinuxBtf().hasStructField(s, f) });
    const plan = planIsolate(spec, detection, argv, chisolPath());
    if (!plan.ok) throw new EnvironmentError(plan.error);
    argv = plan.argv;
  }

  const live = openLive({
    cpus: o.cpus,
    probes: o.probes,
    probeDefaults: 'task',
    policy: o.policy,
    enforce: o.enforce,
    obj: o.obj,
    kthreads: o.kthreads,
    command: o.argv.join(' '),
  });
  const records: (InterruptionRecord | IsolRecord)[] = [];
  const t0 = process.hrtime.bigint();
  try {
    for (const w of live.warnings) err(`isolwatch: warning: ${w}`);
    if (!o.json) err(formatStart(live.start));
    const timer = setInterval(() => live.pump((recs) => records.push(...recs)), 100);

    const child = spawn('taskset', ['-c', live.watched.cpus.join(','), ...argv], { stdio: 'inherit' });
    // follow CMD's forks from the start: children forked during the warm-up are declared with it
    if (child.pid) live.session.trackProcess(child.pid);
    let warmupEndNs: number | undefined;
    let windowEndNs: number | undefined;
    let windowTimer: NodeJS.Timeout | undefined;
    const windowOver = () => err('isolwatch run: judged window over: waiting for the command to exit (not judged)');
    // SIGUSR1 ends the judged window now: a CI script's way to say "the measured phase is over"
    const onUsr1 = () => {
      const now = Number(process.hrtime.bigint());
      if (warmupEndNs === undefined) return err('isolwatch run: SIGUSR1 before the warm-up was over: ignored');
      if (windowEndNs !== undefined && windowEndNs <= now) return;
      windowEndNs = now;
      clearTimeout(windowTimer);
      windowOver();
    };
    process.on('SIGUSR1', onUsr1);
    const endWarmup = () => {
      if (warmupEndNs !== undefined) return;
      clearTimeout(warm);
      warmupEndNs = Number(process.hrtime.bigint());
      const cpus = formatCpuList(live.watched.cpus);
      err(`isolwatch run: warm-up over: judging CPU ${cpus} ${o.window !== undefined ? `for ${o.window} s` : 'until the command exits'}`);
      if (o.window !== undefined) {
        windowEndNs = warmupEndNs + o.window * 1e9;
        windowTimer = setTimeout(windowOver, o.window * 1000);
      }
      if (child.pid) {
        live.tracker.declare({ pid: child.pid }, { children: true, ts_ns: warmupEndNs });
        live.enforcer?.updateProcess(child.pid, 'declared'); // every thread, for in-kernel signals
      }
    };
    const warm = setTimeout(endWarmup, o.warmup * 1000);
    // SIGUSR2 ends the warm-up now: "the task has settled" from a script that knows
    process.on('SIGUSR2', endWarmup);
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.on('error', (error) => resolve({ code: 127, signal: null, error }));
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    // a late SIGUSR1/SIGUSR2 (CMD is gone) must not kill run before the reports are written
    process.off('SIGUSR1', onUsr1).on('SIGUSR1', ignore);
    process.off('SIGUSR2', endWarmup).on('SIGUSR2', ignore);
    clearTimeout(warm);
    clearTimeout(windowTimer);
    clearInterval(timer);
    live.pump((recs) => records.push(...recs));
    if (exit.error) err(`isolwatch run: could not start '${o.argv[0]}': ${exit.error.message}`);
    if (warmupEndNs === undefined) err(`isolwatch run: the command ended before the ${o.warmup}s warm-up: nothing was judged as isolated`);
    const endNs = Number(process.hrtime.bigint());
    if (windowEndNs !== undefined && warmupEndNs !== undefined && endNs < windowEndNs) {
      err(`isolwatch run: note: the command ended ${((endNs - warmupEndNs) / 1e9).toFixed(1)} s into the ${o.window} s judged window`);
    }

    const durationS = Number(process.hrtime.bigint() - t0) / 1e9;
    const summary = live.summary(durationS);
    const interruptions = records.filter((r): r is InterruptionRecord => r.type === 'interruption');
    const judgement = judgeRun({
      interruptions,
      budgets,
      allowSelf: o.allowSelf,
      warmupEndNs: warmupEndNs ?? Number.MAX_SAFE_INTEGER,
      windowEndNs,
      watchedCpus: live.watched.cpus,
      exit_status: exit.code,
      signal: exit.signal,
      failOnCmdError: !o.allowCmdFailure,
    });
    if (warmupEndNs === undefined) {
      // a CI check that judged nothing must not pass silently
      judgement.pass = false;
      judgement.reasons.push(`the command ended before the ${o.warmup}s warm-up: nothing was judged (lower --warmup or run longer)`);
    }
    // the policy's say: rules whose fail action fired, and which rule killed the command
    const pv = policyVerdict(live.enforcer, { pid: child.pid, signal: exit.signal });
    if (pv.failures.length) judgement.pass = false;
    const killed = judgement.reasons.findIndex((r) => r.startsWith('command was killed by'));
    if (killed >= 0) judgement.reasons.splice(killed + 1, 0, ...pv.notes);
    else judgement.reasons.push(...pv.notes);
    judgement.reasons.push(...pv.failures);
    summary.verdict = { pass: judgement.pass, reasons: judgement.reasons, exit_status: exit.code, signal: exit.signal };
    if (warmupEndNs !== undefined) summary.verdict.judged = { from_ns: warmupEndNs, ...(windowEndNs !== undefined && windowEndNs < endNs ? { to_ns: windowEndNs } : {}) };
    const start = live.start;
    if (o.report) {
      const all: OutputRecord[] = [start, ...records, summary];
      writeFileSync(o.report, all.map((r) => toNdjsonLine(r)).join('\n') + '\n');
    }
    if (o.junit) writeFileSync(o.junit, toJunit({ start, summary, judgement, interruptions }));
    if (o.summary) writeFileSync(o.summary, toMarkdown({ start, summary, judgement, interruptions, remedyFor: remedyFor as never }));
    writePictures(o, { start, summary, judgement, interruptions, remedyFor });
    if (o.json) {
      for (const r of [start, ...records, summary]) process.stdout.write(toNdjsonLine(r as OutputRecord) + '\n');
    } else err(formatSummary(summary, judgement));
    return judgement.pass ? 0 : 1;
  } finally {
    live.close();
  }
}
