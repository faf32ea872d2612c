// detectPrIsol against fixture roots: positive evidence only.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { detectPrIsol, prIsolField } from '../../src/isol/detect.js';
import { kallsymsHas } from '../../src/system/kallsyms.js';

const FIX = join(import.meta.dirname, '../fixtures/isol');
const noBtf = () => false;

describe('detectPrIsol', () => {
  it('stock kernel: no symbols (look-alike names do not count), BTF absent -> absent', () => {
    const d = detectPrIsol({ root: join(FIX, 'stock'), hasStructField: noBtf });
    expect(d).toMatchObject({ supported: false, via: null, procTaskIsolation: false });
    expect(prIsolField(d)).toBe('absent');
    expect(d.evidence.join('\n')).toMatch(/no prctl_task_isol_\* symbols/);
  });

  it('v12 kernel: kallsyms symbols and /proc/self/task_isolation', () => {
    const d = detectPrIsol({ root: join(FIX, 'v12'), hasStructField: noBtf });
    expect(d).toMatchObject({ supported: true, via: 'kallsyms', procTaskIsolation: true });
    expect(prIsolField(d)).toBe('kernel');
  });

  it('v8 kernel: kallsyms only (no /proc task_isolation file)', () => {
    expect(detectPrIsol({ root: join(FIX, 'v8') })).toMatchObject({ supported: true, via: 'kallsyms', procTaskIsolation: false });
  });

  it('BTF wins and names the field; v12 task_isol_info before v5-v8 isol_info', () => {
    const asked: string[] = [];
    const v12 = detectPrIsol({
      root: join(FIX, 'stock'),
      hasStructField: (s, f) => (asked.push(`${s}.${f}`), s === 'task_struct' && f === 'task_isol_info'),
    });
    expect(v12).toMatchObject({ supported: true, via: 'btf:task_isol_info' });
    expect(asked).toContain('task_struct.task_isol_info');
    const v5 = detectPrIsol({ root: join(FIX, 'stock'), hasStructField: (s, f) => s === 'task_struct' && f === 'isol_info' });
    expect(v5).toMatchObject({ supported: true, via: 'btf:isol_info' });
  });

  it('a throwing BTF query is evidence, not a crash; kallsyms still decides', () => {
    const d = detectPrIsol({
      root: join(FIX, 'v12'),
      hasStructField: () => {
        throw new Error('no /sys/kernel/btf/vmlinux');
      },
    });
    expect(d).toMatchObject({ supported: true, via: 'kallsyms' });
    expect(d.evidence.join('\n')).toMatch(/could not check \(no \/sys\/kernel\/btf\/vmlinux\)/);
  });

  it('no kallsyms and no BTF -> absent (never guessed)', () => {
    const d = detectPrIsol({ root: join(FIX, 'no-kallsyms') });
    expect(d).toMatchObject({ supported: false, via: null });
    expect(d.evidence.join('\n')).toMatch(/unreadable \(ENOENT\)/);
  });

  it('kallsymsHas matches whole names, with or without a module column', () => {
    const text = 'ffff T prctl_task_isol_cfg_set\t[isol]\nffff T prctl_task_isol_cfg_getx\n';
    expect(kallsymsHas(text, ['prctl_task_isol_cfg_set', 'prctl_task_isol_cfg_get'])).toEqual(['prctl_task_isol_cfg_set']);
  });
});
