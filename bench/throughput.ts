// Pipeline throughput: records per second parsed, decoded and correlated on
// one core, with zero loss.
//  1. Synthetic: real records (a host recording, and getppid() syscall
//     records) laid out in a ring buffer in memory as the kernel writes them,
//     drained through the real RingParser, decodeRecord, Engine.ingest and
//     the NDJSON formatter, stage by stage, passes interleaved.
//  2. End to end: the live pipeline (openLive: ring buffer mmap, 100 ms drain
//     timer, engine) with syscall probes on, while the spin workload makes R
//     getppid() calls per second on the watched CPU; the kernel's lost counter
//     says whether the pipeline kept up.
//
//   node dist/bench/throughput.js [--records N] [--passes N] [--cpu C] [--rates R,R,..] [--seconds S] [--no-e2e] [--no-write]
import { spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { SEMI_SPACE_MB } from '../src/paths.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLive } from '../src/live/pipeline.js';
import { Engine } from '../src/correlate/engine.js';
import { decodeRecord, type RawInterruption, type RawRecord } from '../src/contract/decode.js';
import type { InterruptionRecord } from '../src/types.js';
import { parseRecording } from '../src/contract/recording.js';
import { IsolTracker } from '../src/isol/state.js';
import { RingParser } from '../src/libbpf/ringbuf.js';
import { toNdjsonLine } from '../src/output/ndjson.js';
import { pinSelfTo } from '../src/live/pin.js';
import { symbolsFromTable } from '../src/system/kallsyms.js';
import { buildRing, encodeEntryRecord, encodeInterruption, syscallRecord } from './lib/encode.js';
import { flags, requireRoot, sleep } from './lib/proc.js';
import { commandLine, machine, machineLines, REPO, writeResults } from './lib/results.js';
import { fmtSpread, mdTable, summarize } from './lib/stats.js';

const USAGE =
  'node dist/bench/throughput.js [--records N (200000)] [--batch N (10000)] [--passes N (7)] [--cpu C (0)] [--recording FILE] [--rates R,.. (100000,250000,500000,1000000)] [--seconds S (5)] [--watched C (1)] [--no-e2e] [--no-write]';

type Stage = 'parse' | 'decode' | 'engine' | 'ndjson';
const STAGES: Stage[] = ['parse', 'decode', 'engine', 'ndjson'];
const STAGE_ABOUT: Record<Stage, string> = {
  parse: 'RingParser.drainRaw, empty callback',
  decode: 'decodeRecord of every record (what record -o does)',
  engine: 'Engine.ingestRaw: decoded and correlated records, nothing printed (what live.pump does)',
  ndjson: '+ toNdjsonLine (watch --json --records all, without the write)',
};

async function main(): Promise<void> {
  // the young generation the CLI runs with (src/cli.ts)
  if (!/--max-semi-space-size/.test(process.env.NODE_OPTIONS ?? '')) setFlagsFromString(`--max-semi-space-size=${SEMI_SPACE_MB}`);
  const f = flags(
    process.argv.slice(2),
    { records: 'number', batch: 'number', passes: 'number', cpu: 'number', recording: 'string', rates: 'string', seconds: 'number', watched: 'number', 'no-e2e': 'bool', 'no-write': 'bool' },
    USAGE,
  );
  const n = (f.records as number) ?? 200_000;
  const batchSize = (f.batch as number) ?? 10_000;
  const passes = (f.passes as number) ?? 7;
  const cpu = (f.cpu as number) ?? 0;
  const recFile = (f.recording as string) ?? join(REPO, 'test/fixtures/recordings/host-membarrier.rec.ndjson');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const pinned = pinSelfTo([cpu]);
  if (pinned) throw new Error(pinned);

  // ---- 1. synthetic
  const rec = parseRecording(readFileSync(recFile, 'utf8'), recFile);
  const recorded = rec.raws.filter((r): r is RawInterruption => 'rec' in r && r.rec === 'interruption');
  if (recorded.length === 0) throw new Error(`${recFile} holds no interruption records`);
  const symbols = symbolsFromTable(rec.end?.symbols ?? {});
  const mixes: Record<string, RawInterruption[]> = {
    [`recorded mix (${recorded.length} records of ${recFile.replace(`${REPO}/`, '')}, cycled)`]: Array.from({ length: n }, (_, i) => recorded[i % recorded.length]),
    'getppid() syscall records': Array.from({ length: n }, (_, i) => syscallRecord(1_000_000_000n + BigInt(i) * 200n, 1, 4242)),
  };
  const results = new Map<string, Map<Stage, { wall: number[]; cpu: number[] }>>();
  for (const [mix, raws] of Object.entries(mixes)) {
    // as the kernel sends them: a one-entry record (syscall, fault) compact, a chain record with its entries
    const ring = buildRing(raws.map(entryOrChain));
    const parser = new RingParser(ring.consumer, ring.producer, ring.data, 0, ring.size);
    const per = new Map<Stage, { wall: number[]; cpu: number[] }>(STAGES.map((s) => [s, { wall: [], cpu: [] }]));
    results.set(mix, per);
    for (let p = 0; p < passes + 1; p++) {
      for (let k = 0; k < STAGES.length; k++) {
        const stage = STAGES[(k + p) % STAGES.length];
        const engine = new Engine({ symbols, tracker: new IsolTracker({ prIsol: 'absent' }), prIsol: 'absent', arch: 'x86_64' });
        ring.consumer[0] = 0n;
        ring.producer[0] = BigInt(ring.bytes);
        let outCount = 0;
        let chars = 0;
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        let delivered: number;
        if (stage === 'parse') delivered = parser.drainRaw(() => void outCount++);
        else if (stage === 'decode') {
          // batches of --batch records, as a 100 ms drain timer sees them at batch*10 records/s
          delivered = 0;
          for (;;) {
            const batch: RawRecord[] = [];
            const got = parser.drain((buf) => void batch.push(decodeRecord(buf)), batchSize);
            if (got === 0) break;
            delivered += got;
            outCount += batch.length;
          }
        } else {
          // as live.pump hands them over: in chunks of 1024, each written (ndjson) or let go
          delivered = 0;
          for (;;) {
            let chunk: unknown[] = [];
            const take = () => {
              outCount += chunk.length;
              if (stage === 'ndjson') for (const o of chunk) chars += toNdjsonLine(o as InterruptionRecord).length;
              chunk = [];
            };
            const got = parser.drainRaw((dv, off, len) => {
              const o = engine.ingestRaw(dv, off, len);
              if (o) chunk.push(o);
              if (chunk.length >= 1024) take();
            }, batchSize);
            take();
            if (got === 0) break;
            delivered += got;
          }
        }
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const c = process.cpuUsage(c0);
        if (delivered !== raws.length || outCount !== raws.length) throw new Error(`${mix} ${stage}: ${raws.length} records in, ${delivered} parsed, ${outCount} out: loss in the pipeline`);
        if (p === 0) continue; // warm-up pass (JIT)
        per.get(stage)!.wall.push(raws.length / wall);
        per.get(stage)!.cpu.push(raws.length / ((c.user + c.system) / 1e6));
        void chars;
      }
      if (p > 0) log(`${mix.split(' (')[0]} pass ${p}/${passes}: ${STAGES.map((s) => `${s} ${(per.get(s)!.wall.at(-1)! / 1e6).toFixed(2)} M/s`).join(', ')}`);
    }
  }

  // ---- 2. end to end
  const e2eRows: (string | number)[][] = [];
  let e2eNote = '';
  if (!f['no-e2e']) {
    requireRoot();
    const watched = (f.watched as number) ?? 1;
    const seconds = (f.seconds as number) ?? 5;
    const rates = ((f.rates as string) ?? '100000,250000,500000,1000000').split(',').map(Number);
    for (const rate of rates) {
      const r = await endToEnd(watched, rate, seconds);
      log(`e2e ${rate}/s: ${JSON.stringify(r)}`);
      e2eRows.push([
        rate.toLocaleString('en'),
        r.calls.toLocaleString('en'),
        Math.round(r.calls / r.seconds).toLocaleString('en'),
        r.records.toLocaleString('en'),
        r.lost.toLocaleString('en'),
        r.kernelSyscalls.toLocaleString('en'),
        r.cpuPerRecordNs.toFixed(0),
        r.lost === 0 ? 'yes' : 'no',
      ]);
    }
    e2eNote = `${seconds} s per rate; CPU ${watched} watched, isolwatch pinned to CPU ${cpu}; \`openLive({ probes: 'core,syscalls', records: 'all' })\` (every record) drained every 100 ms as \`watch\` does`;
  }

  // ---- report
  const synthRows: (string | number)[][] = [];
  for (const [mix, per] of results) {
    for (const s of STAGES) {
      const v = per.get(s)!;
      synthRows.push([mix, `${s}: ${STAGE_ABOUT[s]}`, fmtSpread(summarize(v.wall.map((x) => x / 1e6)), 2), fmtSpread(summarize(v.cpu.map((x) => x / 1e6)), 2)]);
    }
  }
  const body = [
    machineLines(machine(), commandLine()),
    `- synthetic: ${n.toLocaleString('en')} records as the kernel sends them (a syscall or fault: a 72-byte entry record; others: 112 bytes + 56 per chain entry) in an in-memory ring buffer laid out as the kernel's, drained in batches of ${batchSize.toLocaleString('en')} (a 100 ms drain timer at ${(batchSize * 10).toLocaleString('en')} records/s) ${passes} times per stage after a warm-up pass, stages interleaved; the process pinned to CPU ${cpu} (all its threads, GC included); every pass checked for zero loss (records in = parsed = correlated out)`,
    '- M records/s: median (25th–75th percentile) over the passes; "per CPU-s" divides by the process CPU time (user + system) instead of wall time',
    '',
    mdTable(['records', 'stage (cumulative)', 'M records/s (wall)', 'M records/s per CPU-s'], synthRows),
    ...(e2eRows.length
      ? [
          '',
          `End to end (real ring buffer): ${e2eNote}. "lost" is the kernel's counter of records that did not fit into the 16 MiB ring; "kernel syscalls" is the authoritative per-CPU syscall counter; "CPU ns/record" is isolwatch's process CPU time over the records it correlated.`,
          '',
          mdTable(['target getppid/s', 'calls made', 'calls/s made', 'records correlated', 'lost', 'kernel syscalls (CPU)', 'CPU ns/record', 'zero loss'], e2eRows),
        ]
      : []),
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!f['no-write']) writeResults('Pipeline throughput', body);
}

/** The record the kernel would send for r: a compact entry record for a syscall or fault of the task itself, else a chain record. */
function entryOrChain(r: RawInterruption): Uint8Array {
  const root = r.chain[0];
  const oneEntry = r.chain.length === 1 && (root.class === 0 || root.class === 1 || root.class === 10) && r.cause_callsite === 0n;
  return oneEntry ? encodeEntryRecord(r) : encodeInterruption(r);
}

async function endToEnd(watched: number, rate: number, seconds: number) {
  // every record, as --records all asks: what the live pipeline keeps up with (the counts are exact regardless)
  const live = await openLive({ cpus: [watched], probes: 'core,syscalls', probeDefaults: 'watch', records: 'all' });
  let records = 0;
  const c0 = process.cpuUsage();
  try {
    await sleep(1000); // attach noise settles; drained below
    live.pump(() => {});
    const c1 = process.cpuUsage();
    const timer = setInterval(() => live.pump((recs) => void (records += recs.length)), 100);
    const spin = spawn(join(REPO, 'test/workloads/bin/spin'), ['--cpu', String(watched), '--seconds', String(seconds), '--syscalls-per-sec', String(rate)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const done = new Promise<string>((resolve, reject) => {
      spin.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/^ready /m.test(out) && !out.includes('go-sent')) {
          out += '\ngo-sent\n';
          spin.stdin.write('go\n');
        }
        const m = /^done .*$/m.exec(out);
        if (m) resolve(m[0]);
      });
      spin.on('exit', (code) => reject(new Error(`spin exited (${code}) before done: ${out}`)));
    });
    const doneLine = await done;
    spin.stdin.end();
    await sleep(300);
    clearInterval(timer);
    live.pump((recs) => void (records += recs.length));
    const c = process.cpuUsage(c1);
    const k = live.counts();
    const calls = Number(/syscalls=(\d+)/.exec(doneLine)?.[1] ?? NaN);
    const elapsed = Number(/elapsed_ms=(\d+)/.exec(doneLine)?.[1] ?? NaN) / 1000;
    void c0;
    return {
      calls,
      seconds: elapsed,
      records,
      lost: k.lost,
      kernelSyscalls: k.byCpu[String(watched)]?.syscall ?? 0,
      cpuPerRecordNs: records ? ((c.user + c.system) * 1000) / records : NaN,
    };
  } finally {
    live.close();
  }
}

main().catch((e) => {
  process.stderr.write(`throughput: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
