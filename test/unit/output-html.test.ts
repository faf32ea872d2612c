// The HTML report as a document: self-contained (nothing it could fetch),
// the verdict first, the timeline's data complete, a histogram bar for each
// class and duration range that occurred, the top causes with remedies, and
// task names escaped. What a browser shows is tested in
// test/integration/pictures.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeRecords as judgeRun } from '../helpers/judge-records.js';
import { replay } from '../../src/commands/report.js';
import { BUCKET_EDGES, bucketOf, histograms, timelineData, toHtml } from '../../src/output/html.js';
import { parseNdjson, splitRecords } from '../../src/output/ndjson.js';
import type { PictureData } from '../../src/output/picture-data.js';
import { remedyFor } from '../../src/remedies.js';
import type { InterruptionRecord } from '../../src/types.js';
import { escaped, expectedBars, externalReferences } from '../checks/html.js';

const ROOT = join(import.meta.dirname, '../..');
const REC = join(ROOT, 'test/fixtures/recordings');

function fromRunReport(name: string): PictureData {
  const s = splitRecords(parseNdjson(readFileSync(join(REC, `out-${name}.ndjson`), 'utf8'), name));
  const judgement = judgeRun({ interruptions: s.interruptions, watchedCpus: s.start!.watched_cpus, warmupEndNs: s.start!.ts_ns! + 1e9 });
  return { start: s.start!, summary: s.summary!, interruptions: s.interruptions, judgement, remedyFor, judged: { from_ns: s.start!.ts_ns! + 1e9 } };
}

describe('HTML report of a failed run (fixture)', () => {
  const data = fromRunReport('noisy');
  const html = toHtml(data);

  it('loads nothing: inline style and script only, a policy that forbids any request', () => {
    expect(externalReferences(html)).toEqual([]);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    expect(html.match(/<script/g)).toHaveLength(2);
  });

  it('says the verdict first, with its reasons', () => {
    const verdictAt = html.indexOf('id="verdict"');
    expect(verdictAt).toBeGreaterThan(0);
    expect(verdictAt).toBeLessThan(html.indexOf('id="timeline"'));
    expect(html).toContain('<span id="verdict-word" class="fail">FAIL</span>');
    for (const r of data.summary.verdict!.reasons) expect(html).toContain(`<li>${escaped(r)}</li>`);
    expect(html).toMatch(/<title>isolwatch: FAIL on CPU 1<\/title>/);
  });

  it('lists the top causes with their remedies, the membarrier sender first', () => {
    const rows = [...html.matchAll(/<tr class="cause">(.*?)<\/tr>/g)].map((m) => m[1]);
    expect(rows.length).toBe(Math.min(10, data.judgement!.topCauses.length));
    expect(rows[0]).toContain('<code>ipi ipi_mb (call_function_single)</code>');
    expect(rows[0]).toContain('<code>membarrier/4243</code>');
    const remedy = remedyFor({ class: 'ipi', kind: 'call_function_single', func: 'ipi_mb' })!;
    expect(rows[0]).toContain(escaped(remedy.remedy[0]));
  });

  it('has a histogram bar for each class and duration range that occurred, with its count', () => {
    const bars = [...html.matchAll(/<rect class="bar" data-class="(\w+)" data-bucket="[^"]*" data-count="(\d+)"/g)];
    const expected = expectedBars(data.interruptions);
    expect(bars).toHaveLength(expected.size);
    const byClass = new Map<string, number>();
    for (const [, cls, n] of bars) byClass.set(cls, (byClass.get(cls) ?? 0) + Number(n));
    for (const [cls, n] of byClass) expect(n).toBe(data.interruptions.filter((r) => r.class === cls).length);
  });

  it('carries every interruption to the timeline, the judged window marked', () => {
    const t = timelineData(data);
    expect(t.ev).toHaveLength(data.interruptions.length);
    expect(t.window.from).toBe(1e9 - (t.t0 - data.start.ts_ns!));
    const embedded = JSON.parse(/<script type="application\/json" id="iw-data">(.*?)<\/script>/s.exec(html)![1]);
    expect(embedded.ev).toHaveLength(data.interruptions.length);
    expect(embedded.cpus).toEqual([1]);
  });
});

describe('HTML report details', () => {
  it('buckets durations by 1-2-5 ranges', () => {
    expect(BUCKET_EDGES.slice(0, 5)).toEqual([0, 100, 200, 500, 1000]);
    expect([0, 99, 100, 1999, 2000, 5e9].map(bucketOf).map((b) => BUCKET_EDGES[b])).toEqual([0, 0, 100, 1000, 2000, 5e9]);
    const h = histograms([{ class: 'ipi', duration_ns: 150 }, { class: 'ipi', duration_ns: 190 }, { class: 'timer', duration_ns: 3000 }] as InterruptionRecord[]);
    expect(h.map((x) => [x.cls, x.count, [...x.buckets.values()].map((b) => b.count)])).toEqual([
      ['timer', 1, [1]],
      ['ipi', 2, [2]],
    ]);
  });

  it('a recording where nothing was judged says so and lists its causes anyway', () => {
    const file = join(REC, 'host-membarrier.rec.ndjson');
    const r = replay(readFileSync(file, 'utf8'), file);
    const ints = r.records.filter((x): x is InterruptionRecord => x.type === 'interruption');
    const html = toHtml({ start: r.start, summary: r.summary, interruptions: ints, remedyFor });
    expect(externalReferences(html)).toEqual([]);
    expect(html).toContain('<span id="verdict-word" class="pass">PASS</span>');
    // isolwatch's own IPI is neither judged nor 'not isolated'
    const notIsolated = ints.filter((x) => x.cause.origin !== 'isolwatch').length;
    expect(notIsolated).toBe(ints.length - 1);
    expect(html).toContain(`no interruptions while isolated on CPU 1 (${notIsolated} while not isolated, not judged)`);
    expect(html).toContain('<table id="top-causes" data-judged="false">');
    expect(html).toContain('neither isolated nor nohz_full');
  });

  it('escapes task names, also inside the embedded data', () => {
    const data = fromRunReport('noisy');
    const evil = '</script><img src=x onerror=alert(1)>&';
    const ints = data.interruptions.map((r) => ({ ...r, victim: { ...r.victim, comm: evil }, cause: r.cause.comm ? { ...r.cause, comm: evil } : r.cause }));
    const judgement = judgeRun({ interruptions: ints, watchedCpus: [1] });
    const html = toHtml({ ...data, interruptions: ints, judgement, summary: { ...data.summary, verdict: undefined } });
    expect(html).not.toContain('<img');
    expect(html).not.toContain('</script><');
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(html).toContain('&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;&#38;');
  });
});
