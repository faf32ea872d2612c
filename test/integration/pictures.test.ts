// The pictures of real runs (issue #17), as root with real BPF: membarrier()
// calls from a thread on CPU 0 interrupt a spinner on CPU 1 (ipi_mb IPIs).
// - `record` + `report --perfetto`: the trace has a slice per interruption
//   of the same recording and an arrow from the sending thread to each
//   ipi_mb the spinner took.
// - `run --perfetto --html --report`: the same checks against run's own
//   NDJSON report of the same run, and the HTML page opened in headless
//   Chromium: what it shows (verdict, top cause, histogram bars, timeline
//   marks, a zoomed view) is compared with that report; a screenshot is
//   saved to build/test-artifacts/.
// - a bad output path is one line and exit 2, before anything is attached.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeRecords as judgeRun } from '../helpers/judge-records.js';
import { replay } from '../../src/commands/report.js';
import { remedyFor } from '../../src/remedies.js';
import type { InterruptionRecord, OutputRecord, SummaryRecord } from '../../src/types.js';
import { runChromium, requireChromium } from '../checks/chromium.js';
import { domText, expectedBars, externalReferences } from '../checks/html.js';
import { checkPerfetto, interruptionKeys, sliceKeys, trackOf, type Checked } from '../checks/perfetto.js';
import { BIN, CLI, ROOT, requireRoot, startWorkload } from './harness.js';

const N = 100;
const dir = mkdtempSync(join(tmpdir(), 'iw-pictures-'));
const ARTIFACTS = join(ROOT, 'build', 'test-artifacts');

beforeAll(() => {
  requireRoot();
  requireChromium();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every ipi_mb the spinner took has an arrow from the sender thread's track on CPU 0; returns how many. */
function expectArrowsFromSender(c: Checked, spinner: number, sender: { pid: number; tid: number }): number {
  const mb = c.interruptionSlices.filter((e) => e.args!.func === 'ipi_mb' && e.args!.victim.tid === spinner);
  for (const e of mb) {
    const flow = c.flowInto.get(e);
    expect(flow, `no arrow into the ipi_mb at ${e.ts}`).toBeDefined();
    expect(trackOf(c, flow!.from)).toBe(`CPU 0 / sender membarrier/${sender.tid}${sender.pid !== sender.tid ? ` (pid ${sender.pid})` : ''}`);
    expect(flow!.from.name).toMatch(/membarrier|smp_call_function/);
    expect(flow!.from.ts! * 1000).toBeCloseTo(e.args!.cause.ts_ns, 0);
    expect(flow!.from.ts!).toBeLessThanOrEqual(e.ts!);
  }
  return mb.length;
}

describe('pictures of a real membarrier run (CPU 1 watched, sender on CPU 0)', () => {
  it('record + report --perfetto: a slice per recorded interruption, an arrow from the sender to each ipi_mb', async () => {
    const rec = join(dir, 'mb.rec');
    const trace = join(dir, 'mb.json');
    const recorder = spawn(process.execPath, [CLI, 'record', '-o', rec, '--cpus', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const attached = new Promise<void>((res, rej) => {
      recorder.stderr!.on('data', (d) => {
        stderr += d;
        if (stderr.includes('isolwatch: recording CPUs 1')) res();
      });
      recorder.on('exit', (code) => rej(new Error(`record exited (${code}) before attaching: ${stderr}`)));
    });
    const exited = new Promise<number | null>((res) => recorder.on('exit', (c) => res(c)));
    try {
      await attached;
      const wl = await startWorkload('membarrier', ['--spin-cpu', '1', '--sender-cpu', '0', '--count', String(N), '--interval-us', '200']);
      const done = await wl.go();
      await wl.finish();
      await new Promise((r) => setTimeout(r, 400)); // one more drain period
      recorder.kill('SIGINT');
      expect(await exited, stderr).toBe(0);

      const rep = spawnSync(process.execPath, [CLI, 'report', rec, '--perfetto', trace], { encoding: 'utf8', timeout: 60_000 });
      expect(rep.status, rep.stderr).toBe(0);
      const c = checkPerfetto(readFileSync(trace, 'utf8'));
      expect(c.problems).toEqual([]);
      // the same recording, replayed here: one slice per interruption, same start, CPU, duration and name
      const r = replay(readFileSync(rec, 'utf8'), rec);
      const ints = r.records.filter((x): x is InterruptionRecord => x.type === 'interruption');
      expect(c.interruptionSlices.length).toBe(ints.length);
      expect(sliceKeys(c)).toEqual(interruptionKeys(ints));

      const spinner = Number(wl.ready.spinner_tid);
      const sender = { pid: Number(wl.ready.pid), tid: Number(wl.ready.sender_tid) };
      const arrows = expectArrowsFromSender(c, spinner, sender);
      // one IPI per call while the spinner ran on CPU 1 (a call while it was switched out sends none)
      const switches = Number(done.spinner_switches ?? 0);
      expect(arrows).toBeLessThanOrEqual(N);
      expect(arrows).toBeGreaterThanOrEqual(N - switches);
      expect(arrows).toBe(ints.filter((i) => i.func === 'ipi_mb' && i.victim.tid === spinner).length);
    } finally {
      if (recorder.exitCode === null) recorder.kill('SIGKILL');
    }
  });

  it('run --perfetto --html: both pictures agree with run’s own report; Chromium shows the verdict, top cause and bars', async () => {
    const out = (f: string) => join(dir, f);
    const r = spawnSync(
      process.execPath,
      [
        'test/vm/drive-run.mjs',
        out('run.err'),
        '0.3',
        '--',
        '--cpus', '1', '--warmup', '300',
        '--report', out('run.ndjson'), '--perfetto', out('run.json'), '--html', out('run.html'),
        '--',
        BIN('membarrier'), '--spin-cpu', '1', '--sender-cpu', '0', '--main-cpu', '0', '--count', String(N), '--interval-us', '200',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    const err = readFileSync(out('run.err'), 'utf8');
    expect(r.status, err).toBe(1); // ipi<=0 exceeded
    const ready = /^ready pid=(\d+) .*sender_tid=(\d+) spinner_tid=(\d+)/m.exec(r.stdout)!;
    const sender = { pid: Number(ready[1]), tid: Number(ready[2]) };
    const spinner = Number(ready[3]);
    const records = readFileSync(out('run.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as OutputRecord);
    const ints = records.filter((x): x is InterruptionRecord => x.type === 'interruption');
    const summary = records.at(-1) as SummaryRecord;
    const { from_ns, to_ns } = summary.verdict!.judged!;

    // the trace: every interruption of the report, arrows from the sender to the spinner's ipi_mb
    const c = checkPerfetto(readFileSync(out('run.json'), 'utf8'));
    expect(c.problems).toEqual([]);
    expect(sliceKeys(c)).toEqual(interruptionKeys(ints));
    const judgedMb = ints.filter((i) => i.func === 'ipi_mb' && i.victim.tid === spinner && i.ts_ns >= from_ns && (to_ns === undefined || i.ts_ns < to_ns));
    expect(judgedMb.length).toBeGreaterThan(N / 2);
    expect(expectArrowsFromSender(c, spinner, sender)).toBe(ints.filter((i) => i.func === 'ipi_mb' && i.victim.tid === spinner).length);
    const judgedSlice = c.events.find((e) => e.cat === 'verdict' && e.name.startsWith('judged: FAIL'))!;
    expect(judgedSlice.ts! * 1000).toBeCloseTo(from_ns, 0);

    // the page, as the browser shows it after its script ran
    const html = readFileSync(out('run.html'), 'utf8');
    expect(externalReferences(html)).toEqual([]);
    const url = pathToFileURL(out('run.html')).href;
    const dom = await runChromium(['--dump-dom', url]);
    expect(dom.code, dom.stderr).toBe(0);
    const page = dom.stdout;
    expect(page).toContain('<span id="verdict-word" class="fail">FAIL</span>');
    for (const reason of summary.verdict!.reasons) expect(page).toContain(`<li>${domText(reason)}</li>`);
    expect(page).toContain(`ipi_mb from membarrier/${sender.tid} on CPU 0`);

    // the sender's membarrier IPIs among the top causes (costliest first: on a busy machine a
    // preemption can cost more), as many as were judged, with the catalogue's remedy
    const judgement = judgeRun({ interruptions: ints, watchedCpus: [1], warmupEndNs: from_ns, windowEndNs: to_ns });
    const at = judgement.topCauses.findIndex((t) => t.func === 'ipi_mb' && t.sender.comm === 'membarrier');
    expect(at, 'ipi_mb from membarrier is not among the top 10 causes').toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(10);
    const top = judgement.topCauses[at];
    expect(top).toMatchObject({ sender: { kind: 'task', tid: sender.tid, cpu: 0 }, senderIds: [sender.tid] });
    const row = [...page.matchAll(/<tr class="cause">(.*?)<\/tr>/gs)][at][1];
    expect(row).toContain('<code>ipi ipi_mb (call_function_single)</code>');
    expect(row).toContain(`<code>membarrier/${sender.tid}</code>`);
    expect(row).toContain(`<td class="num">${top.count}</td>`);
    expect(top.count).toBe(judgedMb.length);
    expect(row).toContain(domText(remedyFor({ class: 'ipi', kind: 'call_function_single', func: 'ipi_mb' })!.remedy[0]));

    // one histogram bar per class and duration range of the report's interruptions
    const bars = [...page.matchAll(/<rect class="bar" data-class="(\w+)" data-bucket="[^"]*" data-count="(\d+)"/g)];
    const expected = expectedBars(ints);
    expect(bars.length).toBe(expected.size);
    for (const [, cls, n] of bars) expect([...expected].some(([k, v]) => k.startsWith(`${cls} `) && v === Number(n))).toBe(true);

    // the timeline drew every interruption of CPU 1, and the zoomed view exactly those inside it
    const rowDrawn = (p: string) => Number(/<g class="row" data-cpu="1" data-drawn="(\d+)"/.exec(p)![1]);
    expect(rowDrawn(page)).toBe(ints.filter((i) => i.cpu === 1).length);
    const t0 = JSON.parse(/<script type="application\/json" id="iw-data">(.*?)<\/script>/s.exec(page)![1].replace(/\\u003c/g, '<')).t0 as number;
    const a = from_ns - t0;
    const b = (to_ns ?? from_ns + 1e8) - t0;
    const zoomed = await runChromium(['--dump-dom', `${url}#t=${a},${b}`]);
    expect(zoomed.code, zoomed.stderr).toBe(0);
    expect(zoomed.stdout).toMatch(new RegExp(`<svg id="tl-svg" [^>]*data-from="${a}" data-to="${b}"`));
    const inView = ints.filter((i) => i.cpu === 1 && i.ts_ns - t0 <= b && i.ts_ns - t0 + i.duration_ns >= a).length;
    expect(rowDrawn(zoomed.stdout)).toBe(inView);
    expect(inView).toBeLessThan(ints.length);

    // a screenshot for people (not compared)
    mkdirSync(ARTIFACTS, { recursive: true });
    const png = join(ARTIFACTS, 'html-report.png');
    const shot = await runChromium([`--screenshot=${png}`, '--window-size=1280,1700', url]);
    expect(shot.code, shot.stderr).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(png).size).toBeGreaterThan(20_000);
    console.info(`html report screenshot: ${png}; sizes: trace ${statSync(out('run.json')).size} B, page ${statSync(out('run.html')).size} B, ${ints.length} interruptions`);
  });

  it('an output path that cannot be written is one line and exit 2, before anything starts', () => {
    const missing = join(dir, 'no-such-dir', 'x.html');
    const rec = join(ROOT, 'test/fixtures/recordings/host-membarrier.rec.ndjson');
    const rep = spawnSync(process.execPath, [CLI, 'report', rec, '--html', missing], { encoding: 'utf8' });
    expect(rep.status).toBe(2);
    expect(rep.stderr.trim().split('\n')).toEqual([`isolwatch report: --html ${missing}: the directory ${join(dir, 'no-such-dir')} does not exist (create it first)`]);
    const run = spawnSync(process.execPath, [CLI, 'run', '--cpus', '1', '--perfetto', dir, '--', 'true'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([`isolwatch run: --perfetto ${dir}: is a directory (give a file name)`]);
    const twice = spawnSync(process.execPath, [CLI, 'run', '--cpus', '1', '--html', join(dir, 'a'), '--perfetto', join(dir, 'a'), '--', 'true'], { encoding: 'utf8' });
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/^isolwatch run: --perfetto and --html both write .*: give each its own file\n$/);
    const record = spawnSync(process.execPath, [CLI, 'record', '-o', missing, '--cpus', '1', '--duration', '1'], { encoding: 'utf8' });
    expect(record.status).toBe(2);
    expect(record.stderr).toMatch(/^isolwatch record: -o .*: the directory .* does not exist/);
  });
});
