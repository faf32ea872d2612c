// The test BTF rewriter (test/integration/isol-btf-rewrite.ts) on this machine's
// real vmlinux BTF, checked by an independent parser (bpftool). No root: the
// BTF file is world-readable.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addIsolFields, findStruct, memberOffset, parseBtf } from '../integration/isol-btf-rewrite.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const dir = mkdtempSync(join(tmpdir(), 'iw-btf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface JType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  vlen?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
}
function dump(file: string): JType[] {
  return JSON.parse(execFileSync('bpftool', ['btf', 'dump', 'file', file, '-j'], { encoding: 'utf8', maxBuffer: 512 << 20 })).types;
}

describe('addIsolFields on this kernel\'s BTF', () => {
  const raw = readFileSync(VMLINUX);
  const orig = parseBtf(raw);
  const task = findStruct(orig, 'task_struct');
  const leader = memberOffset(task, 'group_leader');
  const parent = memberOffset(task, 'real_parent');
  const out = addIsolFields(raw, [
    { flavor: 'v12', taskOffset: leader, memberOffsets: { conf_mask: 100, inherit_mask: 7 }, size: task.size },
    { flavor: 'v5', taskOffset: parent },
  ]);
  const file = join(dir, 'vmlinux-isol');
  writeFileSync(file, out);

  it('is parsed by bpftool: the same types plus six, task_struct with the two members at the chosen offsets', () => {
    expect(orig.count).toBeGreaterThan(10_000);
    const types = dump(file);
    expect(types).toHaveLength(orig.count + 2 + 4);
    const ts = types.filter((t) => t.kind === 'STRUCT' && t.name === 'task_struct');
    expect(ts).toHaveLength(1);
    const byName = Object.fromEntries(ts[0].members!.map((m) => [m.name, m]));
    expect(byName.task_isol_info.bits_offset).toBe(leader * 8);
    expect(byName.isol_info.bits_offset).toBe(parent * 8);
    expect(ts[0].members!.length).toBe(task.members.length + 2);
    const v12 = types.find((t) => t.kind === 'STRUCT' && t.name === 'task_isol_info')!;
    expect(v12.size).toBe(task.size);
    expect(v12.members!.map((m) => [m.name, m.bits_offset])).toEqual([
      ['conf_mask', 800],
      ['active_mask', 64],
      ['quiesce_mask', 128],
      ['oneshot_mask', 192],
      ['inherit_mask', 56],
    ]);
    const v5 = types.find((t) => t.kind === 'STRUCT' && t.name === 'isol_info')!;
    expect(v5.members!.map((m) => m.bits_offset)).toEqual([0, 64, 128, 192, 256]);
    const ptr = types.find((t) => t.id === byName.task_isol_info.type_id)!;
    expect(ptr).toMatchObject({ kind: 'PTR', type_id: v12.id });
  });

  it('leaves every existing type as it was (ids are positions)', () => {
    const a = dump(VMLINUX);
    const b = dump(file);
    const strip = (t: JType) => (t.kind === 'STRUCT' && t.name === 'task_struct' ? { ...t, vlen: 0, members: t.members!.slice(0, task.members.length) } : t);
    for (const id of [1, 2, task.id - 1, task.id, task.id + 1, Math.floor(orig.count / 2), orig.count]) expect(strip(b[id - 1])).toEqual(strip(a[id - 1]));
  });

  it('refuses what it cannot rewrite', () => {
    expect(() => parseBtf(Buffer.from('not btf at all, not btf'))).toThrow(/bad magic/);
    expect(() => findStruct(orig, 'no_such_struct_iw')).toThrow(/no struct/);
    expect(() => memberOffset(task, 'no_such_member')).toThrow(/no member/);
  });
});
