// NDJSON writer/reader: contract key order, no undefined keys, numbers as
// numbers (bigint too), line-numbered parse errors, and the reporter's output
// for the recordings against golden files compared field-order-independently.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { NdjsonError, parseNdjson, splitRecords, toNdjson, toNdjsonLine } from '../../src/output/ndjson.js';
import { reporters } from '../../src/output/index.js';
import type { InterruptionRecord, OutputRecord, SummaryRecord } from '../../src/types.js';

const REC = 'test/fixtures/recordings';
const GOLDEN = 'test/fixtures/golden';

/** Rewrites each line with keys sorted, as `jq -S -c` does. */
function sortedKeys(text: string): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]))
        : v;
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.stringify(sort(JSON.parse(l))) + '\n').join('');
}

/**
 * bpftrace style: compare parsed lines, key order ignored (the golden files
 * hold sorted keys, as `jq -S` writes them). UPDATE_GOLDEN=1 rewrites them.
 */
function expectJsonGolden(actualText: string, file: string): void {
  const path = `${GOLDEN}/${file}`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, sortedKeys(actualText));
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing: run UPDATE_GOLDEN=1 npx vitest run ${'test/unit/output-ndjson.test.ts'} and review it`);
  const parse = (t: string) => t.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  expect(parse(actualText)).toEqual(parse(readFileSync(path, 'utf8')));
}

const interruption: InterruptionRecord = {
  chain: [{ depth: 0, duration_ns: 3100, func: 'ipi_mb', kind: 'call_function_single', class: 'ipi' }],
  violation: true,
  isol: { state: 'declared', active_mask: undefined },
  cause: { callsite: 'membarrier_private_expedited+0x8d', comm: 'membarrier', tid: 4243, pid: 4242, cpu: 0, self: false, context: 'task' },
  victim: { comm: 'noise', tid: 4242, pid: 4242 },
  func: 'ipi_mb',
  kind: 'call_function_single',
  class: 'ipi',
  duration_ns: 3100,
  cpu: 1,
  ts_ns: 5_001_050_000_000,
  type: 'interruption',
};

describe('toNdjsonLine', () => {
  it('writes keys in contract order whatever order they were set in, and drops undefined', () => {
    expect(toNdjsonLine(interruption)).toBe(
      '{"type":"interruption","ts_ns":5001050000000,"cpu":1,"duration_ns":3100,"class":"ipi","kind":"call_function_single","func":"ipi_mb",' +
        '"victim":{"pid":4242,"tid":4242,"comm":"noise"},' +
        '"cause":{"self":false,"context":"task","cpu":0,"pid":4242,"tid":4243,"comm":"membarrier","callsite":"membarrier_private_expedited+0x8d"},' +
        '"isol":{"state":"declared"},"violation":true,' +
        '"chain":[{"class":"ipi","kind":"call_function_single","func":"ipi_mb","duration_ns":3100,"depth":0}]}',
    );
  });

  it('keeps fields the contract does not name yet, after the known ones', () => {
    const line = toNdjsonLine({ ...interruption, chain: [], zz_new: 1, aa_new: 'x' } as InterruptionRecord);
    expect(line.endsWith('"chain":[],"zz_new":1,"aa_new":"x"}')).toBe(true);
  });

  it('writes numbers as JSON numbers, bigint included, and refuses NaN', () => {
    const big = { ...interruption, ts_ns: 18_446_744_073_709_551_615n as unknown as number, chain: [] };
    expect(toNdjsonLine(big)).toContain('"ts_ns":18446744073709551615,');
    expect(() => toNdjsonLine({ ...interruption, duration_ns: Number.NaN })).toThrow(/interruption\.duration_ns = NaN .*not a finite number/);
  });

  it('orders summary CPUs numerically and classes in contract order', () => {
    const s: SummaryRecord = {
      type: 'summary',
      duration_s: 1,
      cpus: {
        '10': { max_ns: 1, stolen_ns: 1, by_class: { ipi: 1 } },
        '9': { max_ns: 2, stolen_ns: 3, by_class: { workqueue: 1, syscall: 2 } },
      },
      tasks: [{ stolen_ns: 0, violations: 0, interruptions: 0, isol: 'none', comm: 'a', tid: 2, pid: 1 }],
      violations: 0,
      lost_events: 0,
      self_caused: 0,
      verdict: { reasons: [], pass: true },
    };
    expect(toNdjsonLine(s)).toBe(
      '{"type":"summary","duration_s":1,"cpus":{"9":{"by_class":{"syscall":2,"workqueue":1},"stolen_ns":3,"max_ns":2},' +
        '"10":{"by_class":{"ipi":1},"stolen_ns":1,"max_ns":1}},' +
        '"tasks":[{"pid":1,"tid":2,"comm":"a","isol":"none","interruptions":0,"violations":0,"stolen_ns":0}],' +
        '"violations":0,"lost_events":0,"self_caused":0,"verdict":{"pass":true,"reasons":[]}}',
    );
  });

  it('escapes strings as JSON does', () => {
    const weird = { ...interruption, chain: [], victim: { pid: 1, tid: 1, comm: 'a"b\\c\n\u0001' } };
    expect(JSON.parse(toNdjsonLine(weird)).victim.comm).toBe('a"b\\c\n\u0001');
  });
});

describe('parseNdjson', () => {
  it('round-trips every recording byte for byte', () => {
    for (const f of ['out-quiet.ndjson', 'out-noisy.ndjson', 'out-not-isolated.ndjson']) {
      const text = readFileSync(`${REC}/${f}`, 'utf8');
      expect(toNdjson(parseNdjson(text, f))).toBe(text);
    }
  });

  it('skips blank lines and CRLF, and records of types it does not know', () => {
    const text = `\n${toNdjsonLine(interruption)}\r\n\n{"type":"future","x":1}\n`;
    expect(parseNdjson(text)).toHaveLength(1);
  });

  it('names the file and line of bad input and says what to do', () => {
    const text = `${toNdjsonLine(interruption)}\n{"type":"interruption",\n`;
    expect(() => parseNdjson(text, 'run.ndjson')).toThrow(NdjsonError);
    expect(() => parseNdjson(text, 'run.ndjson')).toThrow(/^run\.ndjson:2: not valid JSON \(.*\); each line must hold one complete JSON record$/);
    try {
      parseNdjson(text, 'run.ndjson');
    } catch (e) {
      expect((e as NdjsonError).line).toBe(2);
    }
    expect(() => parseNdjson('[1,2]\n', 'x')).toThrow('x:1: expected a JSON object per line, got an array');
    expect(() => parseNdjson('\n\n{"ts_ns":1}\n', 'x')).toThrow('x:3: record has no "type" (expected one of start, interruption, isol, cpu, aggregate, summary)');
    expect(() => parseNdjson('{"type":"interruption","ts_ns":1,"cpu":1,"duration_ns":1,"class":"ipis","cause":{}}', 'x')).toThrow(
      /^x:1: unknown interruption class "ipis" \(expected syscall, .*\); is this an isolwatch report/,
    );
    expect(() => parseNdjson('{"type":"interruption","ts_ns":"1"}', 'x')).toThrow("x:1: interruption record needs a number 'ts_ns'");
    expect(() => parseNdjson('{"type":"start"}', 'x')).toThrow("x:1: start record needs 'watched_cpus'");
  });

  it('splits records by type', () => {
    const s = splitRecords(parseNdjson(readFileSync(`${REC}/out-noisy.ndjson`, 'utf8')));
    expect(s.start?.watched_cpus).toEqual([1]);
    expect(s.interruptions).toHaveLength(124);
    expect(s.isol).toEqual([]);
    expect(s.summary?.violations).toBe(118);
  });
});

describe('ndjson reporter', () => {
  for (const name of ['quiet', 'noisy', 'not-isolated']) {
    it(`matches the golden records for out-${name}`, () => {
      const recs = splitRecords(parseNdjson(readFileSync(`${REC}/out-${name}.ndjson`, 'utf8')));
      const out = reporters.ndjson({ start: recs.start!, summary: recs.summary!, interruptions: recs.interruptions });
      expectJsonGolden(out, `out-${name}.ndjson`);
      const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l) as OutputRecord);
      expect(lines[0].type).toBe('start');
      expect(lines[lines.length - 1].type).toBe('summary');
    });
  }

  it('interleaves isol records with interruptions by time', () => {
    const recs = splitRecords(parseNdjson(readFileSync(`${REC}/out-noisy.ndjson`, 'utf8')));
    const isol = { type: 'isol' as const, ts_ns: recs.start!.ts_ns! + 1e9, pid: 4242, tid: 4242, comm: 'noise', op: 'PR_ISOL_ACTIVATE_SET', args: { mask: '0x1' }, result: -22, meaning: 'EINVAL: this kernel has no PR_ISOL' };
    const out = reporters.ndjson({ start: recs.start!, summary: recs.summary!, interruptions: recs.interruptions, isol: [isol] });
    const types = out.trimEnd().split('\n').map((l) => (JSON.parse(l) as OutputRecord).type);
    expect(types.indexOf('isol')).toBe(7); // after start and the 6 warm-up entries
  });
});
