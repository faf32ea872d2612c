// JUnit and markdown reports and the reporter registry: golden files (exact),
// XML well-formedness, escaping of hostile task names, warnings for CPUs that
// cannot be quiet, remedies from the injected catalogue. UPDATE_GOLDEN=1
// rewrites the golden files; review the diff.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toJunit, xmlAttr, xmlText } from '../../src/output/junit.js';
import { mdCell, toMarkdown, type RemedyLookup } from '../../src/output/markdown.js';
import { FILE_REPORTS, isReporterName, reporters, writeFileReports, type ReportInput } from '../../src/output/index.js';
import { checkOutputFiles } from '../../src/output/files.js';
import { parseNdjson, splitRecords } from '../../src/output/ndjson.js';
import { parseBudget } from '../../src/verdict/index.js';
import { judgeRecords as judgeRun } from '../helpers/judge-records.js';
import { formatSummary } from '../../src/output/text.js';
import { remedyFor as catalogue } from '../../src/remedies.js';
import type { InterruptionRecord } from '../../src/types.js';
import { toHtml } from '../../src/output/html.js';
import { probeMissesText } from '../../src/output/format.js';
import { summarize } from '../../src/correlate/summary.js';
import { fdinfoField } from '../../src/libbpf/object.js';

const REC = 'test/fixtures/recordings';
const GOLDEN = 'test/fixtures/golden';

function expectGolden(actual: string, file: string): void {
  const path = `${GOLDEN}/${file}`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing: run UPDATE_GOLDEN=1 npx vitest run test/unit/output-reports.test.ts and review it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

/** The inputs `isolwatch run` would hand the reporters for a recording (1 s warm-up). */
function input(name: string, opts: { warmup?: boolean; budget?: string; allowSelf?: boolean } = {}): ReportInput {
  const s = splitRecords(parseNdjson(readFileSync(`${REC}/out-${name}.ndjson`, 'utf8'), `out-${name}.ndjson`));
  const start = s.start!;
  const summary = s.summary!;
  const judgement = judgeRun({
    interruptions: s.interruptions,
    watchedCpus: start.watched_cpus,
    warmupEndNs: opts.warmup === false ? undefined : start.ts_ns! + 1e9,
    exit_status: summary.verdict?.exit_status,
    budgets: opts.budget ? parseBudget(opts.budget) : undefined,
    allowSelf: opts.allowSelf,
  });
  return { start, summary, interruptions: s.interruptions, judgement };
}

/** Stand-in catalogue with fixed wording, so golden files do not follow src/remedies.ts edits. */
const stubRemedies: RemedyLookup = (q) => {
  if (q.func === 'ipi_mb') return { causes: 'membarrier() from another thread of the process', remedy: ['no membarrier() from processes with isolated threads'] };
  if (q.kind === 'vmstat_update') return { causes: 'dirty per-CPU vm counters', remedy: ['kernels >= 6.5 skip isolated CPUs', 'raise vm.stat_interval'] };
  if (q.func === 'flush_tlb_func') return { causes: 'munmap in a sibling thread', remedy: ["don't unmap in threads sharing the mm | use a separate process"] };
  return undefined;
};

/**
 * A small XML 1.0 well-formedness check: one root, balanced tags, quoted
 * attributes without '<', no duplicate attributes, only the five predefined
 * entities and character references, no characters XML cannot hold.
 * Returns the element names in document order.
 */
function checkXml(xml: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  const fail = (what: string, at: number): never => {
    throw new Error(`not well-formed XML at offset ${at}: ${what}: ${JSON.stringify(xml.slice(Math.max(0, at - 30), at + 30))}`);
  };
  const checkChars = (t: string, at: number) => {
    if (t.includes('<')) fail("raw '<'", at);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(t)) fail("bare '&'", at);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(t)) fail('character XML cannot hold', at);
  };
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end < 0) fail('unterminated XML declaration', 0);
    if (!/^<\?xml version="1\.0" encoding="UTF-8"\?>$/.test(xml.slice(0, end + 2))) fail('unexpected XML declaration', 0);
    i = end + 2;
  }
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root element', i);
    checkChars(text, i);
    if (lt < 0) break;
    let j = lt + 1;
    let quote = '';
    for (; j < xml.length; j++) {
      const c = xml[j];
      if (quote) {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
    }
    if (j >= xml.length) fail('unterminated tag', lt);
    const tag = xml.slice(lt + 1, j);
    i = j + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) fail(`</${name}> closes <${open ?? 'nothing'}>`, lt);
      continue;
    }
    const m = /^([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)$/.exec(tag);
    if (!m) fail(`bad tag <${tag}>`, lt);
    const [, name, attrs, selfClosing] = m!;
    const seen = new Set<string>();
    for (const a of attrs.matchAll(/([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      if (seen.has(a[1])) fail(`duplicate attribute ${a[1]}`, lt);
      seen.add(a[1]);
      checkChars(a[2] ?? a[3], lt);
    }
    if (stack.length === 0) roots++;
    if (roots > 1) fail('more than one root element', lt);
    names.push(name);
    if (!selfClosing) stack.push(name);
  }
  if (stack.length) fail(`unclosed <${stack[stack.length - 1]}>`, xml.length);
  if (roots !== 1) fail('no root element', 0);
  return names;
}

describe('checkXml (the test helper itself)', () => {
  it('rejects what is not well-formed', () => {
    expect(() => checkXml('<a><b></a></b>')).toThrow(/closes/);
    expect(() => checkXml('<a x="1 < 2"/>')).toThrow(/raw '<'/);
    expect(() => checkXml('<a>AT&T</a>')).toThrow(/bare '&'/);
    expect(() => checkXml('<a x="1" x="2"/>')).toThrow(/duplicate/);
    expect(() => checkXml('<a/><b/>')).toThrow(/more than one root/);
    expect(() => checkXml('<a>\u0001</a>')).toThrow(/cannot hold/);
    expect(checkXml('<?xml version="1.0" encoding="UTF-8"?>\n<a q=\'x>y\'>&amp;&#10;<b/></a>\n')).toEqual(['a', 'b']);
  });
});

describe('toJunit', () => {
  it('matches the golden file for the noisy run and is well-formed', () => {
    const xml = toJunit(input('noisy'));
    expectGolden(xml, 'out-noisy.junit.xml');
    const names = checkXml(xml);
    expect(names.slice(0, 3)).toEqual(['testsuites', 'testsuite', 'properties']);
    expect(names.filter((n) => n === 'testcase')).toHaveLength(13); // cpu1, 11 class budgets, command
    expect(xml).toContain('<testcase classname="isolwatch.cpu" name="cpu1: quiet while isolated" time="0">');
    expect(xml).toContain('name="budget ipi&lt;=0"');
    expect(xml).toContain(
      'ipi ipi_mb (call_function_single) from membarrier/4243 on CPU 0 via membarrier_private_expedited+0x8d, hit CPU 1: 100x, 310us stolen (max 3.3us)',
    );
  });

  it('matches the golden file for the quiet run: every testcase passes', () => {
    const xml = toJunit(input('quiet'));
    expectGolden(xml, 'out-quiet.junit.xml');
    checkXml(xml);
    expect(xml).toContain('tests="14" failures="0"');
    expect(xml).not.toContain('<failure');
    expect(xml).toContain('name="cpu2: quiet while isolated"');
    expect(xml).toContain('name="cpu3: quiet while isolated"');
  });

  it('names budgets as given and says "within budget" when interruptions are allowed', () => {
    const xml = toJunit(input('noisy', { budget: 'ipi=105,workqueue=3,stolen=50us', allowSelf: true }));
    checkXml(xml);
    expect(xml).toContain('name="cpu1: within budget while isolated"');
    expect(xml).toContain('<testcase classname="isolwatch.budget" name="budget ipi&lt;=105" time="0"/>');
    expect(xml).toContain('name="budget stolen&lt;=50us"');
    expect(xml).toContain('<failure message="357us stolen while isolated, over the budget of 50us" type="budget">');
  });

  it('fails the command testcase when the command failed', () => {
    const base = input('quiet');
    const judgement = judgeRun({ interruptions: [], watchedCpus: base.start.watched_cpus, exit_status: null, signal: 'SIGSEGV' });
    const xml = toJunit({ ...base, summary: { ...base.summary, verdict: undefined }, judgement });
    checkXml(xml);
    expect(xml).toContain('<testcase classname="isolwatch.command" name="command exit status" time="0">');
    expect(xml).toContain('<failure message="command was killed by SIGSEGV" type="command">');
  });

  it('escapes hostile task names and callsites everywhere', () => {
    const base = input('quiet');
    const evil: InterruptionRecord = {
      type: 'interruption',
      ts_ns: base.start.ts_ns! + 2e9,
      cpu: 2,
      duration_ns: 5_000,
      class: 'ipi',
      kind: 'call_function_single',
      func: 'x]]>y',
      victim: { pid: 1, tid: 1, comm: 'v' },
      cause: { self: false, context: 'task', cpu: 0, pid: 6, tid: 6, comm: `<b a="1">&'\u0001\u001b`, callsite: 'f&g<h>+0x1' },
      isol: { state: 'declared' },
      violation: true,
      chain: [],
    };
    const judgement = judgeRun({ interruptions: [evil], watchedCpus: [2, 3] });
    const xml = toJunit({ ...base, start: { ...base.start, command: 'sh -c "a && b" <in' }, interruptions: [evil], judgement, summary: { ...base.summary, verdict: undefined } });
    checkXml(xml);
    expect(xml).toContain("most: x]]&gt;y from &lt;b a=\"1\"&gt;&amp;'\\x01\\x1b/6 on CPU 0 x1");
    expect(xml).toContain('from &lt;b a="1"&gt;&amp;\'\\x01\\x1b/6 on CPU 0 via f&amp;g&lt;h&gt;+0x1');
    expect(xml).toContain('<property name="command" value="sh -c &quot;a &amp;&amp; b&quot; &lt;in"/>');
  });

  it('judges with the default budget when no judgement is given', () => {
    const { start, summary, interruptions } = input('noisy');
    const xml = toJunit({ start, summary, interruptions });
    checkXml(xml);
    expect(xml).toContain('name="budget ipi&lt;=0" time="0">');
    // the set-up faults happened before the task was declared isolated: not counted
    expect(xml).toContain('name="budget page_fault&lt;=0" time="0"/>');
  });

  it('escapes text and attributes', () => {
    expect(xmlText('a<b>&c"\'')).toBe('a&lt;b&gt;&amp;c"\'');
    expect(xmlAttr('a<b>&c"\'\n\t')).toBe('a&lt;b&gt;&amp;c&quot;&apos;&#10;&#9;');
    expect(xmlText('\u0000\u0008\uffff ok')).toBe('\\x00\\x08\\xffff ok');
  });
});

describe('toMarkdown', () => {
  it('matches the golden file for the noisy run, with remedies where known', () => {
    const md = toMarkdown({ ...input('noisy'), remedyFor: stubRemedies });
    expectGolden(md, 'out-noisy.md');
    expect(md.split('\n')[0]).toBe('## isolwatch: ❌ FAIL — 118 interruptions while isolated on CPU 1, 360us stolen');
    expect(md).toContain('| ipi `ipi_mb` (call_function_single) | `membarrier/4243 on CPU 0` via `membarrier_private_expedited+0x8d` | 1 | 100 | 310us | 3.3us | no membarrier() from processes with isolated threads |');
    // a pipe inside a remedy does not break the table
    expect(md).toContain("don't unmap in threads sharing the mm \\| use a separate process");
    expect(md).toContain('- before warm-up end: 6 interruptions (syscall 2, page_fault 3, timer 1), 55.1us stolen');
  });

  it('matches the golden file for the quiet run', () => {
    const md = toMarkdown(input('quiet'));
    expectGolden(md, 'out-quiet.md');
    expect(md.split('\n')[0]).toBe('## isolwatch: ✅ PASS — no interruptions while isolated on CPU 2-3');
    expect(md).not.toContain('[!WARNING]');
    expect(md).not.toContain('Top offenders');
  });

  it('warns up front when a watched CPU is not isolated or nohz_full', () => {
    const md = toMarkdown({ ...input('not-isolated', { warmup: false }), remedyFor: stubRemedies });
    expectGolden(md, 'out-not-isolated.md');
    const warn = md.indexOf('> [!WARNING]\n> CPU 7 is neither isolated nor nohz_full');
    expect(warn).toBeGreaterThan(0);
    expect(md).toContain('so such a CPU cannot be quiet');
    expect(warn).toBeLessThan(md.indexOf('### While isolated'));
  });

  it('a judged window (run --duration): what came after is listed under Not judged, in text and JUnit too', () => {
    const base = input('noisy');
    const last = base.interruptions.at(-1)!.ts_ns;
    const judgement = judgeRun({ interruptions: base.interruptions, watchedCpus: base.start.watched_cpus, warmupEndNs: base.start.ts_ns! + 1e9, windowEndNs: last });
    const after = base.interruptions.filter((r) => r.ts_ns >= last).length;
    expect(judgement.after.count).toBe(after);
    expect(judgement.counted.count).toBe(input('noisy').judgement!.counted.count - after);
    expect(toMarkdown({ ...base, judgement })).toMatch(new RegExp(`- after the judged window: ${after} interruptions? \\(`));
    expect(formatSummary(base.summary, judgement)).toMatch(new RegExp(`after the judged window \\(not judged\\): ${after} interruptions? \\(`));
    expect(toJunit({ ...base, judgement })).toContain(`<property name="after_window_interruptions" value="${after}"/>`);
  });

  it('lists budgets that were given, and the command status', () => {
    const md = toMarkdown(input('noisy', { budget: 'ipi=105,workqueue=3,stolen=50us', allowSelf: true }));
    expect(md).toContain('| `ipi<=105` | 105 | met |');
    expect(md).toContain('| `stolen<=50us` | 357us | **exceeded** |');
    expect(md).toContain("- the task's own syscalls/faults (allowed): 10");
    expect(md).toContain('- command status: exit 0');
  });

  it('takes the remedy catalogue (src/remedies.ts) as it is', () => {
    const md = toMarkdown({ ...input('noisy'), remedyFor: catalogue });
    const row = md.split('\n').find((l) => l.startsWith('| ipi `ipi_mb`'));
    expect(row).toBeDefined();
    expect(row!.split(' | ').pop()!.replace(/ \|$/, '').trim().length).toBeGreaterThan(0);
  });

  it('escapes table cells without mangling comparisons', () => {
    expect(mdCell('a|b\nc <script> x <= 3 &amp; y > 2')).toBe('a\\|b c &lt;script> x <= 3 &amp;amp; y > 2');
  });
});

describe('reporters registry', () => {
  it('has the seven reporters, each giving a whole document', () => {
    expect(Object.keys(reporters).sort()).toEqual(['html', 'junit', 'markdown', 'metrics', 'ndjson', 'perfetto', 'text']);
    expect(isReporterName('junit')).toBe(true);
    expect(isReporterName('html')).toBe(true);
    expect(isReporterName('pdf')).toBe(false);
    expect(isReporterName('toString')).toBe(false);
    const data = input('noisy');
    for (const [name, report] of Object.entries(reporters)) {
      const out = report(data);
      expect(out.endsWith('\n'), name).toBe(true);
    }
    expect(reporters.junit(data)).toBe(toJunit(data));
    expect(reporters.text(data)).toContain('verdict: FAIL');
    expect(reporters.ndjson(data).split('\n')).toHaveLength(127); // start + 124 + summary + final newline
  });

  it('every file flag has its reporter; checked up front, one file per flag', () => {
    for (const { reporter } of Object.values(FILE_REPORTS)) expect(isReporterName(reporter)).toBe(true);
    expect(Object.keys(FILE_REPORTS).sort()).toEqual(['--html', '--junit', '--metrics', '--perfetto', '--report', '--summary']);
    const dir = mkdtempSync(join(tmpdir(), 'iw-reports-'));
    try {
      const files = { '--perfetto': join(dir, 't.json'), '--html': join(dir, 'r.html') };
      checkOutputFiles('report', files);
      writeFileReports(input('noisy'), files);
      expect(JSON.parse(readFileSync(files['--perfetto'], 'utf8')).traceEvents.length).toBeGreaterThan(0);
      expect(readFileSync(files['--html'], 'utf8')).toMatch(/^<!doctype html>/);
      expect(() => checkOutputFiles('run', { '--perfetto': join(dir, 'a'), '--html': join(dir, 'a') })).toThrow(
        `isolwatch run: --perfetto and --html both write ${join(dir, 'a')}: give each its own file`,
      );
      expect(() => checkOutputFiles('run', { '--html': dir })).toThrow(/--html .*: is a directory/);
      expect(() => checkOutputFiles('run', { '--summary': '/dev/stdout', '--junit': '/dev/stdout' })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('probe runs the kernel skipped (summary.probe_misses)', () => {
  const misses = { sched_switch: 2, hrtimer_expire_entry: 1, local_timer_entry: 2 };
  const sentence =
    "the kernel skipped 5 runs of isolwatch's probes (local_timer_entry 2, sched_switch 2, hrtimer_expire_entry 1): one of its programs was already running on that CPU, so what happened then was not seen and the counts may be short";
  const withMisses = (): ReportInput => {
    const i = input('quiet');
    return { ...i, summary: { ...i.summary, probe_misses: misses } };
  };

  it('the fdinfo field is read where the kernel has it (5.12+), and only there', () => {
    // the fdinfo of a tracepoint program (bpftrace's) on this machine's 6.18 kernel, its recursion_misses made 7
    const fdinfo =
      'pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\nprog_type:\t5\nprog_jited:\t1\nprog_tag:\tc0b1a85fb75dc74b\nmemlock:\t4096\n' +
      'prog_id:\t149896\nrun_time_ns:\t0\nrun_cnt:\t0\nrecursion_misses:\t7\nverified_insns:\t21\n';
    expect(fdinfoField(fdinfo, 'recursion_misses')).toBe(7);
    expect(fdinfoField(fdinfo.replace(/recursion_misses.*\n/, ''), 'recursion_misses')).toBeUndefined();
  });

  it('one sentence, largest first; nothing when none was skipped', () => {
    expect(probeMissesText(misses)).toBe(sentence);
    expect(probeMissesText({})).toBeUndefined();
    expect(probeMissesText(undefined)).toBeUndefined();
    expect(probeMissesText({ sched_switch: 1 })).toMatch(/^the kernel skipped 1 run of isolwatch's probes \(sched_switch 1\)/);
  });

  it('every report says it: text, markdown, JUnit, HTML, metrics; none does when there were none', () => {
    const i = withMisses();
    expect(formatSummary(i.summary)).toContain(`warning: ${sentence}`);
    expect(toMarkdown(i)).toContain(`> [!WARNING]\n> ${sentence}`);
    expect(toJunit(i)).toContain('<property name="probe_misses" value="sched_switch=2,hrtimer_expire_entry=1,local_timer_entry=2"/>');
    expect(toHtml(i)).toContain(`<p class="warn">${sentence.replace(/'/g, '&#39;')}</p>`);
    expect(reporters.metrics(i)).toMatch(/^isolwatch_probe_misses_total 5$/m);
    const none = input('quiet');
    for (const out of [formatSummary(none.summary), toMarkdown(none), toJunit(none), toHtml(none)]) expect(out).not.toMatch(/probe_misses|probes \(/);
    expect(reporters.metrics(none)).toMatch(/^isolwatch_probe_misses_total 0$/m);
  });

  it('summarize keeps them only when there are some', () => {
    const base = { rows: [], watchedCpus: [1], durationS: 1, lost: 0 };
    expect(summarize({ ...base, probeMisses: { sched_switch: 3 } }).probe_misses).toEqual({ sched_switch: 3 });
    expect('probe_misses' in summarize({ ...base, probeMisses: {} })).toBe(false);
  });
});
