// A small BTF rewriter for tests: takes a kernel's raw BTF (/sys/kernel/btf/vmlinux)
// and adds the task-isolation fields a patched kernel would have, so the CO-RE
// relocations of bpf/core_fixes.bpf.h can be exercised on a stock kernel via
// libbpf's btf_custom_path. BTF type ids are positions, so appending types and
// strings and inserting a member record into task_struct (vlen + 1) leaves every
// existing id valid. Little-endian only (what the test machines are).
//
// The added pointer member may be placed at the offset of an existing pointer
// member of task_struct (an alias): the BPF program then really follows that
// pointer, and the added struct's members may alias fields of the pointee, so a
// live interruption record carries values user space knows.

const BTF_MAGIC = 0xeb9f;
const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19 } as const;

export interface BtfMember {
  name: string;
  typeId: number;
  /** bit offset (bitfield size stripped) */
  bitOffset: number;
  bitfieldSize: number;
}

export interface BtfStruct {
  id: number;
  name: string;
  size: number;
  kindFlag: boolean;
  members: BtfMember[];
  /** byte position of the btf_type record inside the type section */
  pos: number;
}

export interface ParsedBtf {
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
  /** number of types (ids 1..count) */
  count: number;
  /** byte position (in the type section) of each type id's record */
  positions: number[];
  buf: Buffer;
}

function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case KIND.INT:
    case KIND.VAR:
    case KIND.DECL_TAG:
      return 4;
    case KIND.ARRAY:
      return 12;
    case KIND.STRUCT:
    case KIND.UNION:
    case KIND.DATASEC:
    case KIND.ENUM64:
      return 12 * vlen;
    case KIND.ENUM:
    case KIND.FUNC_PROTO:
      return 8 * vlen;
    case KIND.PTR:
    case KIND.FWD:
    case KIND.TYPEDEF:
    case KIND.VOLATILE:
    case KIND.CONST:
    case KIND.RESTRICT:
    case KIND.FUNC:
    case KIND.FLOAT:
    case KIND.TYPE_TAG:
      return 0;
  }
  throw new Error(`BTF: unknown kind ${kind}`);
}

export function parseBtf(buf: Buffer): ParsedBtf {
  if (buf.readUInt16LE(0) !== BTF_MAGIC) throw new Error('not little-endian raw BTF (bad magic)');
  const hdrLen = buf.readUInt32LE(4);
  const typeOff = buf.readUInt32LE(8);
  const typeLen = buf.readUInt32LE(12);
  const strOff = buf.readUInt32LE(16);
  const strLen = buf.readUInt32LE(20);
  const positions = [0];
  const base = hdrLen + typeOff;
  let p = 0;
  while (p < typeLen) {
    positions.push(p);
    const info = buf.readUInt32LE(base + p + 4);
    p += 12 + extraBytes((info >>> 24) & 0x1f, info & 0xffff);
  }
  if (p !== typeLen) throw new Error(`BTF: type section ends at ${p}, header says ${typeLen}`);
  return { hdrLen, typeOff, typeLen, strOff, strLen, count: positions.length - 1, positions, buf };
}

function str(b: ParsedBtf, off: number): string {
  const start = b.hdrLen + b.strOff + off;
  const end = b.buf.indexOf(0, start);
  return b.buf.toString('latin1', start, end);
}

/** The (single) STRUCT named name. */
export function findStruct(b: ParsedBtf, name: string): BtfStruct {
  const base = b.hdrLen + b.typeOff;
  for (let id = 1; id <= b.count; id++) {
    const pos = b.positions[id];
    const info = b.buf.readUInt32LE(base + pos + 4);
    if (((info >>> 24) & 0x1f) !== KIND.STRUCT || str(b, b.buf.readUInt32LE(base + pos)) !== name) continue;
    const kindFlag = (info >>> 31) === 1;
    const members: BtfMember[] = [];
    for (let i = 0; i < (info & 0xffff); i++) {
      const m = base + pos + 12 + i * 12;
      const off = b.buf.readUInt32LE(m + 8);
      members.push({
        name: str(b, b.buf.readUInt32LE(m)),
        typeId: b.buf.readUInt32LE(m + 4),
        bitOffset: kindFlag ? off & 0xffffff : off,
        bitfieldSize: kindFlag ? off >>> 24 : 0,
      });
    }
    return { id, name, size: b.buf.readUInt32LE(base + pos + 8), kindFlag, members, pos };
  }
  throw new Error(`BTF: no struct ${name}`);
}

/** Byte offset of a (non-bitfield) member of a struct. */
export function memberOffset(s: BtfStruct, name: string): number {
  const m = s.members.find((x) => x.name === name);
  if (!m) throw new Error(`BTF: struct ${s.name} has no member ${name}`);
  if (m.bitfieldSize || m.bitOffset % 8) throw new Error(`BTF: ${s.name}.${name} is a bitfield`);
  return m.bitOffset / 8;
}

export const ISOL_MEMBERS = ['conf_mask', 'active_mask', 'quiesce_mask', 'oneshot_mask', 'inherit_mask'] as const;
export type IsolMember = (typeof ISOL_MEMBERS)[number];

export interface IsolFieldSpec {
  /** v12: task_struct.task_isol_info -> struct task_isol_info; v5: task_struct.isol_info -> struct isol_info */
  flavor: 'v12' | 'v5';
  /** byte offset of the new pointer member in task_struct (an existing pointer member's offset to alias it) */
  taskOffset: number;
  /** byte offsets of the pointee's members (u64 masks, u8 inherit_mask); defaults to the packed series layout 0, 8, 16, 24, 32 */
  memberOffsets?: Partial<Record<IsolMember, number>>;
  /** size of the pointee struct (default 40) */
  size?: number;
}

/**
 * Returns a copy of the raw BTF with, per spec, a struct task_isol_info (v12) /
 * isol_info (v5) { u64 conf_mask, active_mask, quiesce_mask, oneshot_mask; u8
 * inherit_mask } appended and a pointer member to it added to task_struct.
 */
export function addIsolFields(raw: Buffer, specs: IsolFieldSpec[]): Buffer {
  const b = parseBtf(raw);
  const task = findStruct(b, 'task_struct');
  const strings: string[] = [];
  const strBase = b.strLen;
  const addStr = (s: string): number => {
    const off = strBase + strings.reduce((n, x) => n + Buffer.byteLength(x) + 1, 0);
    strings.push(s);
    return off;
  };
  const newTypes: Buffer[] = [];
  let nextId = b.count + 1;
  const addType = (rec: Buffer): number => {
    newTypes.push(rec);
    return nextId++;
  };
  const typeRec = (nameOff: number, kind: number, vlen: number, sizeOrType: number, kindFlag = 0, extra: number[] = []): Buffer => {
    const r = Buffer.alloc(12 + extra.length * 4);
    r.writeUInt32LE(nameOff, 0);
    r.writeUInt32LE((((kindFlag & 1) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff)) >>> 0, 4);
    r.writeUInt32LE(sizeOrType, 8);
    extra.forEach((v, i) => r.writeUInt32LE(v >>> 0, 12 + i * 4));
    return r;
  };
  // INT: encoding (bits 24..27) 0 = unsigned, offset 0, nr_bits
  const u64 = addType(typeRec(addStr('long long unsigned int'), KIND.INT, 0, 8, 0, [64]));
  const u8 = addType(typeRec(addStr('unsigned char'), KIND.INT, 0, 1, 0, [8]));

  const taskMembers: Buffer[] = [];
  for (const spec of specs) {
    const offs: Record<IsolMember, number> = { conf_mask: 0, active_mask: 8, quiesce_mask: 16, oneshot_mask: 24, inherit_mask: 32, ...spec.memberOffsets };
    const members = ISOL_MEMBERS.flatMap((m) => [addStr(m), m === 'inherit_mask' ? u8 : u64, offs[m] * 8]);
    const structName = spec.flavor === 'v12' ? 'task_isol_info' : 'isol_info';
    const st = addType(typeRec(addStr(structName), KIND.STRUCT, ISOL_MEMBERS.length, spec.size ?? 40, 0, members));
    const ptr = addType(typeRec(0, KIND.PTR, 0, st));
    const m = Buffer.alloc(12);
    m.writeUInt32LE(addStr(spec.flavor === 'v12' ? 'task_isol_info' : 'isol_info'), 0);
    m.writeUInt32LE(ptr, 4);
    m.writeUInt32LE(spec.taskOffset * 8, 8); // kind_flag layout: bitfield size 0 in the top byte, same value
    taskMembers.push(m);
  }

  const base = b.hdrLen + b.typeOff;
  const typesOld = raw.subarray(base, base + b.typeLen);
  const taskEnd = task.pos + 12 + task.members.length * 12;
  const info = raw.readUInt32LE(base + task.pos + 4);
  const vlen = (info & 0xffff) + taskMembers.length;
  if (vlen > 0xffff) throw new Error('task_struct has too many members');
  const taskHead = Buffer.from(typesOld.subarray(task.pos, task.pos + 12));
  taskHead.writeUInt32LE(((info & ~0xffff) | vlen) >>> 0, 4);
  const types = Buffer.concat([
    typesOld.subarray(0, task.pos),
    taskHead,
    typesOld.subarray(task.pos + 12, taskEnd),
    ...taskMembers,
    typesOld.subarray(taskEnd),
    ...newTypes,
  ]);
  const strsOld = raw.subarray(b.hdrLen + b.strOff, b.hdrLen + b.strOff + b.strLen);
  const strs = Buffer.concat([strsOld, ...strings.map((s) => Buffer.from(s + '\0', 'latin1'))]);
  const hdr = Buffer.from(raw.subarray(0, b.hdrLen));
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(types.length, 12);
  hdr.writeUInt32LE(types.length, 16);
  hdr.writeUInt32LE(strs.length, 20);
  return Buffer.concat([hdr, types, strs]);
}
