// BTF queries: the running kernel's BTF (feature probes: does this tracepoint,
// struct field, typedef exist?) and the BTF of a compiled .bpf.o (record
// layouts, so TypeScript never hand-copies bpf/events.h).
import { readFileSync } from 'node:fs';
import { BTF_KIND, btfNative as B, installLibbpfPrint, libbpfLogMark, libbpfLogSince, lastErrno, releaseFreedNativeMemory, trackHandle, untrackHandle, type Ptr } from './ffi.js';
import { LibbpfError, NotSupportedError } from './errors.js';

const kindOf = (info: number): number => (info >>> 24) & 0x1f;
const vlenOf = (info: number): number => info & 0xffff;
const kflagOf = (info: number): boolean => (info >>> 31) === 1;

/** A parsed BTF blob; owns its native handle until close(). */
class BtfHandle {
  protected ptr: Ptr | null;
  private readonly handleId: number;

  protected constructor(ptr: Ptr, label: string) {
    this.ptr = ptr;
    this.handleId = trackHandle('btf', label);
  }

  protected get raw(): Ptr {
    if (this.ptr === null) throw new Error('BTF handle used after close()');
    return this.ptr;
  }

  /** Type id of a named type of one BTF kind, or 0 when absent. */
  findId(name: string, kind: number): number {
    const id = B.findByNameKind(this.raw, name, kind);
    return id > 0 ? id : 0;
  }

  header(id: number): { name: string; kind: number; vlen: number; kflag: boolean; sizeOrType: number; ptr: Ptr } {
    const t = B.typeById(this.raw, id);
    if (t === null) throw new Error(`BTF type id ${id} is out of range`);
    const h = B.readTypeHeader(t);
    return { name: B.nameByOffset(this.raw, h.nameOff), kind: kindOf(h.info), vlen: vlenOf(h.info), kflag: kflagOf(h.info), sizeOrType: h.sizeOrType, ptr: t };
  }

  /** Members of a struct/union: name, type id, bit offset, bitfield size (0 = not a bitfield). */
  members(id: number): { name: string; type: number; bitOffset: number; bitfieldSize: number }[] {
    const h = this.header(id);
    if (h.kind !== BTF_KIND.STRUCT && h.kind !== BTF_KIND.UNION) throw new Error(`BTF type ${h.name || id} is not a struct or union`);
    const words = B.readTrailingU32(h.ptr, 3 * h.vlen);
    const out = [];
    for (let i = 0; i < h.vlen; i++) {
      const off = words[3 * i + 2];
      out.push({
        name: B.nameByOffset(this.raw, words[3 * i]),
        type: words[3 * i + 1],
        bitOffset: h.kflag ? off & 0xffffff : off,
        bitfieldSize: h.kflag ? off >>> 24 : 0,
      });
    }
    return out;
  }

  /** Follow typedefs and const/volatile/restrict/type_tag to the underlying type id. */
  skipModifiers(id: number): number {
    for (let guard = 0; guard < 64 && id !== 0; guard++) {
      const h = this.header(id);
      if (h.kind === BTF_KIND.TYPEDEF || h.kind === BTF_KIND.VOLATILE || h.kind === BTF_KIND.CONST || h.kind === BTF_KIND.RESTRICT || h.kind === BTF_KIND.TYPE_TAG) id = h.sizeOrType;
      else return id;
    }
    return id;
  }

  sizeOf(id: number): number {
    return B.resolveSize(this.raw, id);
  }

  close(): void {
    if (this.ptr === null) return;
    B.free(this.ptr);
    this.ptr = null;
    untrackHandle(this.handleId);
  }
}

/** The running kernel's BTF (/sys/kernel/btf/vmlinux). */
export class VmlinuxBtf extends BtfHandle {
  /** @internal use vmlinuxBtf() */
  static load(): VmlinuxBtf {
    installLibbpfPrint();
    const mark = libbpfLogMark();
    const p = B.loadVmlinux();
    if (p === null) {
      const errno = lastErrno();
      throw new NotSupportedError(
        'kernel BTF (/sys/kernel/btf/vmlinux)',
        'a kernel built with CONFIG_DEBUG_INFO_BTF=y',
        `btf__load_vmlinux_btf failed: ${new LibbpfError('btf__load_vmlinux_btf', errno, { libbpfLog: libbpfLogSince(mark).map((m) => m.text) }).message}`,
      );
    }
    return new VmlinuxBtf(p, 'vmlinux');
  }

  hasTypedef(name: string): boolean {
    return this.findId(name, BTF_KIND.TYPEDEF) > 0;
  }

  /** Does `struct <structName>` have a member `field` (also inside anonymous nested structs/unions)? */
  hasStructField(structName: string, field: string): boolean {
    const id = this.findId(structName, BTF_KIND.STRUCT) || this.findId(structName, BTF_KIND.UNION);
    return id > 0 && this.hasMember(id, field, 0);
  }

  private hasMember(id: number, field: string, depth: number): boolean {
    for (const m of this.members(id)) {
      if (m.name === field) return true;
      if (m.name === '' && depth < 8) {
        const inner = this.skipModifiers(m.type);
        const k = this.header(inner).kind;
        if ((k === BTF_KIND.STRUCT || k === BTF_KIND.UNION) && this.hasMember(inner, field, depth + 1)) return true;
      }
    }
    return false;
  }

  override close(): void {
    if (cached === this) cached = null;
    super.close();
  }
}

let cached: VmlinuxBtf | null = null;

/** The kernel's BTF, loaded once and cached until its close(). */
export function vmlinuxBtf(): VmlinuxBtf {
  cached ??= VmlinuxBtf.load();
  return cached;
}

/**
 * Release the cached kernel BTF, if loaded (after start-up, and part of a full
 * teardown; it is reloaded on next use), and give the freed native memory back:
 * parsed, the kernel's BTF is tens of MB of malloc'd memory glibc would keep.
 */
export function closeVmlinuxBtf(): void {
  if (!cached) return;
  cached.close();
  releaseFreedNativeMemory();
}

/** Is there a BTF raw tracepoint (tp_btf) called `name` in this kernel? (btf_trace_<name> typedef) */
/**
 * Whether the kernel has a BTF-enabled tracepoint (tp_btf needs the typedef
 * btf_trace_<name>). Read from the string table of /sys/kernel/btf/vmlinux,
 * without parsing its types: a few ms, where a full parse costs tens of ms
 * and tens of MB at every start. A btf_trace_* name in that table is the
 * typedef's (the kernel emits no other use of the prefix).
 */
export function hasTracepoint(name: string): boolean {
  tracepointNames ??= readTracepointNames(VMLINUX_BTF_PATH);
  return tracepointNames.has(name);
}

const VMLINUX_BTF_PATH = '/sys/kernel/btf/vmlinux';
let tracepointNames: Set<string> | undefined;

/** The names after btf_trace_ in a raw BTF file's string table (struct btf_header: magic, version, flags, hdr_len, type_off/len, str_off/len). */
export function readTracepointNames(path: string): Set<string> {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new NotSupportedError('kernel BTF (/sys/kernel/btf/vmlinux)', 'a kernel built with CONFIG_DEBUG_INFO_BTF=y', (e as Error).message);
  }
  if (raw.length < 24 || raw.readUInt16LE(0) !== 0xeb9f) throw new Error(`${path} is not BTF (magic ${raw.length >= 2 ? raw.readUInt16LE(0).toString(16) : '?'})`);
  const hdrLen = raw.readUInt32LE(4);
  const strOff = raw.readUInt32LE(16);
  const strLen = raw.readUInt32LE(20);
  const start = hdrLen + strOff;
  const end = Math.min(raw.length, start + strLen);
  const prefix = Buffer.from('\0btf_trace_', 'latin1');
  const out = new Set<string>();
  for (let at = raw.indexOf(prefix, start - 1); at >= 0 && at < end; at = raw.indexOf(prefix, at + 1)) {
    const from = at + prefix.length;
    const nul = raw.indexOf(0, from);
    if (nul < 0 || nul > end) break;
    out.add(raw.toString('latin1', from, nul));
  }
  return out;
}

/**
 * A core tracepoint must exist: throw NotSupportedError naming it (and the
 * kernel that added it, when known) instead of failing later at load.
 */
export function requireTracepoint(name: string, minimum?: string): void {
  if (!hasTracepoint(name)) {
    throw new NotSupportedError(`tracepoint ${name} (tp_btf, btf_trace_${name} in kernel BTF)`, minimum, 'isolwatch needs it; upgrade the kernel or pick another probe');
  }
}

export interface StructLayout {
  name: string;
  size: number;
  members: {
    name: string;
    offset: number;
    size: number;
    kind: 'int' | 'array' | 'struct' | 'union' | 'ptr' | 'enum' | 'other';
    signed?: boolean;
    elemSize?: number;
    count?: number;
    typeName?: string;
  }[];
}

/** BTF parsed from a file (a compiled .bpf.o); owns its handle. */
class FileBtf extends BtfHandle {
  static parse(path: string): FileBtf {
    installLibbpfPrint();
    const mark = libbpfLogMark();
    const p = B.parse(path);
    if (p === null) {
      const errno = lastErrno();
      throw new LibbpfError(`btf__parse(${path})`, errno, {
        libbpfLog: libbpfLogSince(mark).map((m) => m.text),
        hint: 'the file must be a BPF object compiled with -g (clang -g -target bpf)',
      });
    }
    return new FileBtf(p, path);
  }

  layout(structName: string, objPath: string): StructLayout {
    let id = this.findId(structName, BTF_KIND.STRUCT) || this.findId(structName, BTF_KIND.UNION);
    if (id === 0) {
      const td = this.findId(structName, BTF_KIND.TYPEDEF);
      if (td > 0) id = this.skipModifiers(td);
    }
    if (id === 0 || ![BTF_KIND.STRUCT, BTF_KIND.UNION].includes(this.header(id).kind as 4 | 5)) {
      throw new Error(
        `struct ${structName} is not in the BTF of ${objPath}: anchor it in the BPF program (e.g. \`struct ${structName} *${structName}_anchor __attribute__((unused));\`) and rebuild`,
      );
    }
    const members: StructLayout['members'] = this.members(id).map((m) => {
      const tid = this.skipModifiers(m.type);
      const h = this.header(tid);
      const base = { name: m.name, offset: Math.floor(m.bitOffset / 8), size: this.sizeOf(m.type) };
      if (m.bitfieldSize !== 0) return { ...base, size: Math.ceil(m.bitfieldSize / 8), kind: 'other' as const, typeName: h.name || undefined };
      switch (h.kind) {
        case BTF_KIND.INT: {
          const enc = B.readTrailingU32(h.ptr, 1)[0];
          return { ...base, kind: 'int' as const, signed: ((enc >>> 24) & 0x1) === 1, typeName: h.name };
        }
        case BTF_KIND.ARRAY: {
          const [elemType, , nelems] = B.readTrailingU32(h.ptr, 3);
          const elem = this.skipModifiers(elemType);
          return { ...base, kind: 'array' as const, elemSize: this.sizeOf(elemType), count: nelems, typeName: this.header(elem).name || undefined };
        }
        case BTF_KIND.STRUCT:
          return { ...base, kind: 'struct' as const, typeName: h.name || undefined };
        case BTF_KIND.UNION:
          return { ...base, kind: 'union' as const, typeName: h.name || undefined };
        case BTF_KIND.PTR:
          return { ...base, kind: 'ptr' as const };
        case BTF_KIND.ENUM:
        case BTF_KIND.ENUM64:
          return { ...base, kind: 'enum' as const, signed: h.kflag, typeName: h.name || undefined };
        default:
          return { ...base, kind: 'other' as const, typeName: h.name || undefined };
      }
    });
    return { name: structName, size: this.sizeOf(id), members };
  }
}

/** Layout of a struct (or union) as compiled into a .bpf.o, read from the object's BTF. */
export function structLayoutFromObject(objPath: string, structName: string): StructLayout {
  const btf = FileBtf.parse(objPath);
  try {
    return btf.layout(structName, objPath);
  } finally {
    btf.close();
  }
}

/** Offsets and sizes of the variables of a DATASEC (".rodata", ".bss", ...) in a BTF. @internal for object.ts */
export function datasecVariables(btfPtr: Ptr, secName: string): Map<string, { offset: number; size: number }> {
  const vars = new Map<string, { offset: number; size: number }>();
  const id = B.findByNameKind(btfPtr, secName, BTF_KIND.DATASEC);
  if (id <= 0) return vars;
  const t = B.typeById(btfPtr, id);
  if (t === null) return vars;
  const h = B.readTypeHeader(t);
  const words = B.readTrailingU32(t, 3 * vlenOf(h.info));
  for (let i = 0; i < vlenOf(h.info); i++) {
    const vt = B.typeById(btfPtr, words[3 * i]);
    if (vt === null) continue;
    const vh = B.readTypeHeader(vt);
    vars.set(B.nameByOffset(btfPtr, vh.nameOff), { offset: words[3 * i + 1], size: words[3 * i + 2] });
  }
  return vars;
}
