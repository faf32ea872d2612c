import { describe, expect, it } from 'vitest';
import { DEFAULT_LISTEN, HELP, helpFor, parseArgs, parseListen, UsageError } from '../../src/cli-args.js';
import { DEFAULT_TOP } from '../../src/output/metrics.js';
import { parseProbes, DEFAULT_PROBES_WATCH } from '../../src/live/probes.js';

describe('parseArgs', () => {
  it('no arguments and bare flags mean watch', () => {
    expect(parseArgs([])).toMatchObject({ cmd: 'watch', opts: { pids: [], json: false } });
    expect(parseArgs(['--pid', '42,43'])).toMatchObject({ cmd: 'watch', opts: { pids: [42, 43] } });
  });
  it('watch options', () => {
    const c = parseArgs(['watch', '--cpus', '2-3,5', '--duration', '10', '--json', '--probes', 'all']);
    expect(c).toMatchObject({ cmd: 'watch', opts: { cpus: [2, 3, 5], duration: 10, json: true, probes: 'all' } });
  });
  it('run takes its command after --, budgets repeat', () => {
    const c = parseArgs(['run', '--cpus', '3', '--budget', 'ipi=2', '--budget', 'stolen=50us', '--warmup', '2', '--junit', 'j.xml', '--', 'spin', '-x']);
    expect(c).toMatchObject({ cmd: 'run', opts: { cpus: [3], budgets: ['ipi=2', 'stolen=50us'], warmup: 2, junit: 'j.xml', argv: ['spin', '-x'] } });
  });
  it('--perfetto and --html for run and report; not with --tui', () => {
    expect(parseArgs(['run', '--perfetto', 't.json', '--html', 'r.html', '--', 'spin'])).toMatchObject({ cmd: 'run', opts: { perfetto: 't.json', html: 'r.html' } });
    expect(parseArgs(['report', 'rec', '--perfetto=t.json', '--html', 'r.html'])).toMatchObject({ cmd: 'report', opts: { file: 'rec', perfetto: 't.json', html: 'r.html' } });
    expect(() => parseArgs(['report', 'rec', '--tui', '--html', 'r.html'])).toThrow(/--tui cannot be combined with .*--html/);
    expect(() => parseArgs(['watch', '--html', 'r.html'])).toThrow(/unknown option '--html'/);
  });
  it('--metrics FILE for run and report; not with --tui', () => {
    expect(parseArgs(['run', '--metrics', 'run.prom', '--', 'spin'])).toMatchObject({ cmd: 'run', opts: { metrics: 'run.prom' } });
    expect(parseArgs(['report', 'rec', '--metrics=r.prom'])).toMatchObject({ cmd: 'report', opts: { file: 'rec', metrics: 'r.prom' } });
    expect(() => parseArgs(['report', 'rec', '--tui', '--metrics', 'r.prom'])).toThrow(/--tui cannot be combined with .*--metrics/);
    expect(() => parseArgs(['watch', '--metrics', 'r.prom'])).toThrow(/unknown option '--metrics'/);
  });
  it('serve: a fixed default address on this machine only, --listen HOST:PORT, --top N', () => {
    expect(parseArgs(['serve'])).toMatchObject({ cmd: 'serve', opts: { listen: DEFAULT_LISTEN, top: DEFAULT_TOP, json: false, enforce: false } });
    expect(DEFAULT_LISTEN).toEqual({ host: '127.0.0.1', port: 9476 });
    const c = parseArgs(['serve', '--listen', '0.0.0.0:9100', '--cpus', '1', '--probes', 'default,-faults', '--top', '5', '--duration', '2']);
    expect(c).toMatchObject({ cmd: 'serve', opts: { listen: { host: '0.0.0.0', port: 9100 }, cpus: [1], probes: 'default,-faults', top: 5, duration: 2 } });
    expect(parseArgs(['serve', '--top', '0'])).toMatchObject({ opts: { top: 0 } });
    expect(parseArgs(['serve', '--policy', 'p.yaml', '--enforce'])).toMatchObject({ opts: { policy: 'p.yaml', enforce: true } });
  });
  it('serve --listen: every form, and what is wrong with a bad one', () => {
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListen('[::1]:9476')).toEqual({ host: '::1', port: 9476 });
    expect(parseListen('[::]:65535')).toEqual({ host: '::', port: 65535 });
    expect(() => parseListen('9476')).toThrow(/'9476': expected HOST:PORT/);
    expect(() => parseListen(':9476')).toThrow(/no host: give an address \(0\.0\.0\.0/);
    expect(() => parseListen('::1:9476')).toThrow(/IPv6 address goes in brackets/);
    expect(() => parseListen('127.0.0.1:65536')).toThrow(/'65536' is not a port number/);
    expect(() => parseListen('127.0.0.1:http')).toThrow(/'http' is not a port number/);
    expect(() => parseArgs(['serve', '--top', '-1'])).toThrow(/--top '-1' is not a whole number/);
    expect(() => parseArgs(['serve', '--json'])).toThrow(/unknown option '--json'/);
    expect(() => parseArgs(['serve', 'x'])).toThrow(/unexpected argument 'x'/);
    expect(() => parseArgs(['serve', '--enforce'])).toThrow(/--enforce needs --policy FILE/);
    expect(() => parseArgs(['serve', '--listen', 'nope'])).toThrow(UsageError);
  });
  it('usage errors say what and what to do', () => {
    expect(() => parseArgs(['run', '--', ])).toThrow(/no command given/);
    expect(() => parseArgs(['run', 'spin'])).toThrow(/after '--'/);
    expect(() => parseArgs(['watch', '--cpu', '1'])).toThrow(/unknown option '--cpu'/);
    expect(() => parseArgs(['watch', '--cpus', '3-1'])).toThrow(/end before start/);
    expect(() => parseArgs(['watch', '--pid', 'abc'])).toThrow(/not a process id/);
    expect(() => parseArgs(['watch', '--duration', 'x'])).toThrow(/not a number of seconds or a duration/);
    expect(() => parseArgs(['record'])).toThrow(/-o FILE is required/);
    expect(() => parseArgs(['frobnicate'])).toThrow(/unknown command 'frobnicate'/);
    expect(() => parseArgs(['report', 'a', '--tui', '--json'])).toThrow(/cannot be combined/);
    expect(() => parseArgs(['watch', '--json', '--json'])).toThrow(/given twice/);
    let caught: unknown;
    try {
      parseArgs(['watch', '--bogus']);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect(() => parseArgs(['watch', '--records', 'every'])).toThrow(/--records 'every': expected sampled or all/);
    expect(parseArgs(['watch', '--records', 'all', '--json', '--interval', '2s'])).toMatchObject({ cmd: 'watch', opts: { records: 'all', interval: 2 } });
  });
  it('help and version', () => {
    expect(parseArgs(['--help'])).toEqual({ cmd: 'help' });
    expect(parseArgs(['run', '--help'])).toEqual({ cmd: 'help', topic: 'run' });
    expect(parseArgs(['help', 'run'])).toEqual({ cmd: 'help', topic: 'run' });
    expect(parseArgs(['--version'])).toEqual({ cmd: 'version' });
    // a --help for the command after '--' belongs to the command
    expect(parseArgs(['run', '--', 'spin', '--help'])).toMatchObject({ cmd: 'run', opts: { argv: ['spin', '--help'] } });
    expect(() => parseArgs(['help', 'nosuch'])).toThrow(/no command 'nosuch'/);
    expect(() => parseArgs(['help', 'rum'])).toThrow(/did you mean 'run'\?/);
  });
  it('each command has its own help page listing every option it takes', () => {
    const run = helpFor('run');
    for (const o of ['--budget', '--warmup', '--duration', '--wait', '--grace', '--junit', '--report', '--summary', '--perfetto', '--html', '--allow-self', '--allow-cmd-failure', '--isolate', '--obj']) expect(run).toContain(o);
    expect(helpFor('watch')).toContain('--pid');
    expect(helpFor('record')).toContain('-o, --output FILE');
    expect(helpFor('doctor')).toContain('--root DIR');
    for (const o of ['--perfetto FILE', '--html FILE']) expect(helpFor('report')).toContain(o);
    expect(helpFor('demo')).toContain('--duration');
    for (const o of ['--listen HOST:PORT', '--top N', '--cpus LIST', '--probes GROUPS', '--policy FILE']) expect(helpFor('serve')).toContain(o);
    expect(helpFor('run')).toContain('--metrics FILE');
    expect(helpFor('report')).toContain('--metrics FILE');
    expect(helpFor('watch')).toMatch(/groups: core[\s\S]*tasks\)/); // every probe group is named
    expect(HELP).toContain("'isolwatch help CMD'");
    expect(run).not.toContain(helpFor('watch'));
  });
  it('time flags take seconds or a duration, and must be > 0', () => {
    expect(parseArgs(['watch', '--duration', '2m'])).toMatchObject({ opts: { duration: 120 } });
    expect(parseArgs(['watch', '--duration', '1ms'])).toMatchObject({ opts: { duration: 0.001 } });
    expect(parseArgs(['run', '--duration', '90s', '--warmup', '0', '--', 'x'])).toMatchObject({ opts: { window: 90, warmup: 0 } });
    expect(() => parseArgs(['watch', '--duration', '0'])).toThrow(/must be longer than 0 s/);
    expect(() => parseArgs(['run', '--duration', '0', '--', 'x'])).toThrow(/must be longer than 0 s/);
  });
  it('smaller mistakes are refused with what to do', () => {
    expect(() => parseArgs(['watch', '--enforce'])).toThrow(/--enforce needs --policy FILE/);
    expect(() => parseArgs(['record', '-o', '-'])).toThrow(/isolwatch watch --json/);
    expect(() => parseArgs(['demo', '--cpus', '0-1'])).toThrow(/one CPU/);
    expect(() => parseArgs(['watch', '--durtion', '1'])).toThrow(/did you mean '--duration'\?/);
  });
});

describe('parseProbes', () => {
  it('defaults, all, and +/- edits; core always stays', () => {
    expect([...parseProbes(undefined, DEFAULT_PROBES_WATCH)]).not.toContain('syscalls');
    expect(parseProbes('all', []).has('syscalls')).toBe(true);
    const s = parseProbes('+syscalls,-faults', DEFAULT_PROBES_WATCH);
    expect(s.has('syscalls')).toBe(true);
    expect(s.has('faults')).toBe(false);
    expect(parseProbes('vectors', DEFAULT_PROBES_WATCH)).toEqual(new Set(['vectors', 'core']));
    expect(() => parseProbes('bogus', [])).toThrow(/unknown group 'bogus'/);
  });
});
