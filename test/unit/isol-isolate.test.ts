// --isolate parsing and the chisol plan (refused without a detected ABI).
import { describe, expect, it } from 'vitest';
import { IsolateSpecError, parseIsolateSpec, planIsolate } from '../../src/isol/isolate.js';
import { chisolPath as defaultChisolPath } from '../../src/paths.js';

describe('parseIsolateSpec', () => {
  it('quiesce=vmstat', () => {
    expect(parseIsolateSpec('quiesce=vmstat')).toEqual({ features: 1n, quiesce_mask: 1n, inherit_mask: 0 });
    expect(parseIsolateSpec('quiesce=vmstats').quiesce_mask).toBe(1n);
  });
  it('inherit=conf and inherit=active (which implies conf)', () => {
    expect(parseIsolateSpec('quiesce=vmstat,inherit=conf').inherit_mask).toBe(1);
    expect(parseIsolateSpec('inherit=active,quiesce=vmstat').inherit_mask).toBe(3);
  });
  it.each([
    ['', /empty value at column 1/],
    ['quiesce', /'quiesce' is not key=value at column 1/],
    ['quiesce=', /quiesce needs a value at column 9/],
    ['quiesce=tlb', /unknown quiesce bit 'tlb' \(known: vmstat\) at column 9/],
    ['quiesce=vmstat,inherit=all', /inherit must be 'conf' or 'active', not 'all' at column 24/],
    ['quiesce=vmstat,mode=strict', /unknown key 'mode' \(known: quiesce, inherit\) at column 16/],
    ['quiesce=vmstat,quiesce=vmstat', /'quiesce' given twice at column 16/],
    ['inherit=conf', /quiesce=\.\.\. is required/],
  ])('rejects %j with what, where and the expected syntax', (text, re) => {
    let err: unknown;
    try {
      parseIsolateSpec(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IsolateSpecError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).toMatch(/^--isolate '.*': .* expected quiesce=vmstat\[,inherit=conf\|active\]$/);
  });
});

describe('planIsolate', () => {
  const spec = parseIsolateSpec('quiesce=vmstat,inherit=active');
  it('refuses on a kernel without the ABI and explains the collision', () => {
    const p = planIsolate(spec, { supported: false, via: null }, ['./app']);
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.exitCode).toBe(3);
    expect(p.error).toMatch(/does not have the PR_ISOL task-isolation ABI/);
    expect(p.error).toMatch(/65 is PR_SET_MDWE \(irreversible memory-deny-write-execute\)/);
    expect(p.error).toMatch(/67 is PR_SET_MEMORY_MERGE/);
    expect(p.error).toMatch(/Run without --isolate/);
  });
  it('builds the chisol argv when the ABI was detected', () => {
    expect(planIsolate(spec, { supported: true, via: 'btf:task_isol_info' }, ['./app', '-x'], '/opt/iw/chisol')).toEqual({
      ok: true,
      argv: ['/opt/iw/chisol', '--abi-confirmed', '--via=btf:task_isol_info', '--quiesce', '0x1', '--inherit', 'active', '--', './app', '-x'],
    });
    expect(planIsolate(parseIsolateSpec('quiesce=vmstat'), { supported: true, via: 'kallsyms' }, ['a'])).toEqual({
      ok: true,
      argv: [defaultChisolPath(), '--abi-confirmed', '--via=kallsyms', '--quiesce', '0x1', '--', 'a'],
    });
    expect(defaultChisolPath()).toMatch(new RegExp(`/build/${process.arch}/chisol$`));
  });
  it('refuses an empty command', () => {
    expect(planIsolate(spec, { supported: true, via: 'kallsyms' }, [])).toMatchObject({ ok: false });
  });
});
