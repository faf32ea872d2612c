// The TypeScript side of the kernel/TypeScript contract (bpf/events.h, via
// the generated constants): what TypeScript keeps positionally must match
// the C numbers, so a reordering on either side fails here.
import { describe, expect, it } from 'vitest';
import { IW } from '../../src/contract/layout.generated.js';
import { className, flagNames } from '../../src/contract/vocabulary.js';
import { PR_ISOL_ACTIVATE_SET, PR_ISOL_FEAT_GET } from '../../src/isol/abi.js';
import { CLASSES } from '../../src/types.js';

describe('contract constants', () => {
  it('CLASSES[i] is the class IW_CLASS_<NAME> = i names', () => {
    expect(CLASSES.length).toBe(IW.IW_CLASS_MAX);
    CLASSES.forEach((name, i) => {
      expect((IW as Record<string, number>)[`IW_CLASS_${name.toUpperCase()}`], name).toBe(i);
      expect(className(i)).toBe(name);
    });
  });
  it('PR_ISOL option numbers come from events.h', () => {
    expect([PR_ISOL_FEAT_GET, PR_ISOL_ACTIVATE_SET]).toEqual([IW.IW_PR_ISOL_FEAT_GET, IW.IW_PR_ISOL_ACTIVATE_SET]);
  });
  it('every watched CPU can be attributed: the cpumask walk covers all CPUs', () => {
    expect(IW.IW_MAX_WATCH).toBe(IW.IW_MAX_CPUS);
  });
  it('every IW_F_* flag has a name', () => {
    const flags = Object.entries(IW).filter(([k]) => k.startsWith('IW_F_'));
    for (const [k, v] of flags) expect(flagNames(v).length, k).toBe(1);
  });
});
