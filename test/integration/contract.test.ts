// The built BPF object against the kernel/TypeScript contract: the generated
// layout is current, the C static asserts and the BTF agree, and every program
// belongs to a probe group (a program no group names would never be loaded).
// Needs the build (bpftool reads the object's BTF), not root.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDefines, readLayouts, renderLayoutModule } from '../../src/contract/gen-layout.js';
import { ON_DEMAND_PROGRAMS, PROGRAM_GROUPS, PROBE_GROUPS } from '../../src/live/probes.js';
import { bpfObjectPath } from '../../src/paths.js';

const ROOT = join(import.meta.dirname, '../..');
const OBJ = bpfObjectPath();

/** Names of the BPF programs in the object (BTF FUNCs whose ELF section is a program section). */
function programs(): string[] {
  const out = execFileSync('llvm-objdump', ['--syms', OBJ], { encoding: 'utf8' });
  // "0000000000000000 g     F tp_btf/sched_switch	0000000000000418 handle_sched_switch"
  return [...out.matchAll(/^\S+ g\s+F (\S+)\s+\S+ (\w+)$/gm)].filter((m) => !m[1].startsWith('.text')).map((m) => m[2]);
}

describe('the built object and the contract', () => {
  it('layout.generated.ts matches the BTF of the built object (regenerate with npm run gen-layout)', () => {
    const fresh = renderLayoutModule(readLayouts(OBJ), readDefines(readFileSync(join(ROOT, 'bpf/events.h'), 'utf8')));
    expect(fresh).toBe(readFileSync(join(ROOT, 'src/contract/layout.generated.ts'), 'utf8'));
  });

  it('the BTF sizes agree with the C static asserts', () => {
    const l = readLayouts(OBJ);
    expect(l.iw_entry.size).toBe(56);
    expect(l.iw_isol_call.size).toBe(120);
    expect(l.iw_interruption.fields.chain.offset + 6 * 56).toBe(l.iw_interruption.size);
  });

  it('every program of the object belongs to a probe group or is run on demand', () => {
    const progs = programs();
    expect(progs.length).toBeGreaterThan(40);
    const orphans = progs.filter((p) => PROGRAM_GROUPS[p] === undefined && !ON_DEMAND_PROGRAMS.includes(p));
    expect(orphans, 'add them to PROGRAM_GROUPS in src/live/probes.ts').toEqual([]);
    // and the table names nothing the object lacks, in groups that exist
    expect(Object.keys(PROGRAM_GROUPS).filter((p) => !progs.includes(p))).toEqual([]);
    for (const g of Object.values(PROGRAM_GROUPS)) expect(Object.keys(PROBE_GROUPS)).toContain(g);
  });
});
