import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/cli-args.js';
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
  it('usage errors say what and what to do', () => {
    expect(() => parseArgs(['run', '--', ])).toThrow(/no command given/);
    expect(() => parseArgs(['run', 'spin'])).toThrow(/after '--'/);
    expect(() => parseArgs(['watch', '--cpu', '1'])).toThrow(/unknown option '--cpu'/);
    expect(() => parseArgs(['watch', '--cpus', '3-1'])).toThrow(/end before start/);
    expect(() => parseArgs(['watch', '--pid', 'abc'])).toThrow(/not a process id/);
    expect(() => parseArgs(['watch', '--duration', 'x'])).toThrow(/not a number of seconds/);
    expect(() => parseArgs(['record'])).toThrow(/-o FILE is required/);
    expect(() => parseArgs(['frobnicate'])).toThrow(/unknown command 'frobnicate'/);
    expect(() => parseArgs(['report', 'a', '--tui', '--json'])).toThrow(/cannot be combined/);
    expect(() => parseArgs(['watch', '--json', '--json'])).toThrow(/given twice/);
    try {
      parseArgs(['watch', '--bogus']);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).exitCode).toBe(2);
    }
  });
  it('help and version', () => {
    expect(parseArgs(['--help'])).toEqual({ cmd: 'help' });
    expect(parseArgs(['run', '--help'])).toEqual({ cmd: 'help', topic: 'run' });
    expect(parseArgs(['--version'])).toEqual({ cmd: 'version' });
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
