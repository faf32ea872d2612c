// The only file that imports koffi. It declares the libbpf 1.1 and libc
// functions isolwatch uses, owns the libbpf print hook (libbpf's log goes to an
// in-memory buffer that errors quote), and keeps the registry of every native
// handle the libbpf layer creates so tests can check that nothing leaks.
//
// Conventions (measured, see knowledge/libbpf-koffi.md): pointers are bigint,
// NULL comes back as null, libbpf 1.x int functions return -errno, pointer
// functions return NULL and set errno (read it with lastErrno() right after).
import koffi, { type LibraryHandle } from 'koffi';
import { EnvironmentError } from '../errors.js';
import { LIBBPF_INSTALL_HINT, LIBBPF_SONAME } from '../system/libbpf-file.js';

/** An opaque native pointer (never NULL: NULL is null). */
export type Ptr = bigint;

// ---------------------------------------------------------------------------
// Libraries

let libbpf: LibraryHandle;
let libc: LibraryHandle;
try {
  libbpf = koffi.load(LIBBPF_SONAME);
  libc = koffi.load('libc.so.6');
} catch (err) {
  // exit 3 (the environment cannot run isolwatch), one line with the package to install
  throw new EnvironmentError(`cannot load ${LIBBPF_SONAME} (${(err as Error).message.split('\n')[0]}): ${LIBBPF_INSTALL_HINT}`);
}

// struct bpf_object_open_opts as in libbpf 1.1 (80 bytes). The unnamed
// `__u32 :32` where attach_prog_fd used to be is declared so later fields land
// at libbpf's offsets; libbpf rejects a larger sz with a non-zero tail.
const OpenOpts = koffi.struct('iw_bpf_object_open_opts', {
  sz: 'size_t',
  object_name: 'const char *',
  relaxed_maps: 'bool',
  pin_root_path: 'const char *',
  _unused_attach_prog_fd: 'uint32_t',
  kconfig: 'const char *',
  btf_custom_path: 'const char *',
  kernel_log_buf: 'void *',
  kernel_log_size: 'size_t',
  kernel_log_level: 'uint32_t',
});
if (koffi.sizeof(OpenOpts) !== 80) throw new Error('iw_bpf_object_open_opts must be 80 bytes (libbpf 1.1 layout)');

// struct bpf_test_run_opts as in libbpf 1.1 (80 bytes), for running a program
// on demand (bpf_prog_test_run_opts); retval comes back through _Inout_.
const TestRunOpts = koffi.struct('iw_bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});
if (koffi.sizeof(TestRunOpts) !== 80) throw new Error('iw_bpf_test_run_opts must be 80 bytes (libbpf 1.1 layout)');

/** struct btf_type header; members/params/etc. follow it in memory. */
const BtfTypeHdr = koffi.struct('iw_btf_type', { name_off: 'uint32_t', info: 'uint32_t', size_or_type: 'uint32_t' });

// Print callback: int (*)(enum libbpf_print_level, const char *fmt, va_list).
// On x86-64 va_list is an array type (the callee gets a pointer to the 24-byte
// tag); on arm64 it is a 32-byte struct passed by reference to a copy. Either
// way it arrives as a pointer, and is copied before each vsnprintf (va_copy).
const PrintFn = koffi.proto('int iw_libbpf_print_fn(int level, void *fmt, void *ap)');
const VA_LIST_SIZE: number | null = process.arch === 'x64' ? 24 : process.arch === 'arm64' ? 32 : null;

const f = {
  // libbpf: objects
  bpf_object__open_file: libbpf.func('void *bpf_object__open_file(const char *path, const iw_bpf_object_open_opts *opts)'),
  bpf_object__load: libbpf.func('int bpf_object__load(void *obj)'),
  bpf_object__close: libbpf.func('void bpf_object__close(void *obj)'),
  bpf_object__name: libbpf.func('const char *bpf_object__name(void *obj)'),
  bpf_object__btf: libbpf.func('void *bpf_object__btf(void *obj)'),
  bpf_object__next_program: libbpf.func('void *bpf_object__next_program(void *obj, void *prev)'),
  bpf_object__next_map: libbpf.func('void *bpf_object__next_map(void *obj, void *prev)'),
  // programs
  bpf_program__name: libbpf.func('const char *bpf_program__name(void *prog)'),
  bpf_program__section_name: libbpf.func('const char *bpf_program__section_name(void *prog)'),
  bpf_program__autoload: libbpf.func('bool bpf_program__autoload(void *prog)'),
  bpf_program__set_autoload: libbpf.func('int bpf_program__set_autoload(void *prog, bool autoload)'),
  bpf_program__fd: libbpf.func('int bpf_program__fd(void *prog)'),
  bpf_program__attach: libbpf.func('void *bpf_program__attach(void *prog)'),
  bpf_link__destroy: libbpf.func('int bpf_link__destroy(void *link)'),
  // maps
  bpf_map__name: libbpf.func('const char *bpf_map__name(void *map)'),
  bpf_map__fd: libbpf.func('int bpf_map__fd(void *map)'),
  bpf_map__type: libbpf.func('int bpf_map__type(void *map)'),
  bpf_map__key_size: libbpf.func('uint32_t bpf_map__key_size(void *map)'),
  bpf_map__value_size: libbpf.func('uint32_t bpf_map__value_size(void *map)'),
  bpf_map__max_entries: libbpf.func('uint32_t bpf_map__max_entries(void *map)'),
  bpf_map__is_internal: libbpf.func('bool bpf_map__is_internal(void *map)'),
  bpf_map__initial_value: libbpf.func('void *bpf_map__initial_value(void *map, _Out_ size_t *psize)'),
  bpf_map__set_initial_value: libbpf.func('int bpf_map__set_initial_value(void *map, const void *data, size_t size)'),
  bpf_map__set_max_entries: libbpf.func('int bpf_map__set_max_entries(void *map, uint32_t max_entries)'),
  // low-level map syscalls (bpf.h)
  bpf_map_lookup_elem: libbpf.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  bpf_map_update_elem: libbpf.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  bpf_map_delete_elem: libbpf.func('int bpf_map_delete_elem(int fd, const void *key)'),
  bpf_map_lookup_and_delete_elem: libbpf.func('int bpf_map_lookup_and_delete_elem(int fd, const void *key, void *value)'),
  bpf_map_get_next_key: libbpf.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
  bpf_map_lookup_batch: libbpf.func(
    'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, const void *opts)',
  ),
  bpf_prog_test_run_opts: libbpf.func('int bpf_prog_test_run_opts(int prog_fd, _Inout_ iw_bpf_test_run_opts *opts)'),
  // misc
  libbpf_num_possible_cpus: libbpf.func('int libbpf_num_possible_cpus(void)'),
  libbpf_probe_bpf_helper: libbpf.func('int libbpf_probe_bpf_helper(int prog_type, int helper_id, const void *opts)'),
  libbpf_set_print: libbpf.func('void *libbpf_set_print(void *fn)'),
  libbpf_strerror: libbpf.func('int libbpf_strerror(int err, void *buf, size_t size)'),
  // btf
  btf__load_vmlinux_btf: libbpf.func('void *btf__load_vmlinux_btf(void)'),
  btf__parse: libbpf.func('void *btf__parse(const char *path, void *btf_ext)'),
  btf__free: libbpf.func('void btf__free(void *btf)'),
  btf__find_by_name_kind: libbpf.func('int btf__find_by_name_kind(void *btf, const char *name, uint32_t kind)'),
  btf__type_cnt: libbpf.func('uint32_t btf__type_cnt(void *btf)'),
  btf__type_by_id: libbpf.func('void *btf__type_by_id(void *btf, uint32_t id)'),
  btf__name_by_offset: libbpf.func('const char *btf__name_by_offset(void *btf, uint32_t offset)'),
  btf__resolve_size: libbpf.func('int64_t btf__resolve_size(void *btf, uint32_t type_id)'),
  // libc
  mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
  munmap: libc.func('int munmap(void *addr, size_t length)'),
  getpagesize: libc.func('int getpagesize(void)'),
  vsnprintf: libc.func('int vsnprintf(void *buf, size_t size, void *fmt, void *ap)'),
  memcpy: libc.func('void *memcpy(void *dst, void *src, size_t n)'),
  malloc_trim: libc.func('int malloc_trim(size_t pad)'),
};

/** errno of the last native call (valid right after a call that failed). */
export function lastErrno(): number {
  return koffi.errno();
}

// ---------------------------------------------------------------------------
// Typed libbpf surface used by object.ts / btf.ts / ringbuf.ts.

/** enum bpf_prog_type / enum bpf_func_id values isolwatch probes for (uapi/linux/bpf.h). */
export const BPF_PROG_TYPE = { SYSCALL: 31 } as const;
export const BPF_FUNC = { kallsyms_lookup_name: 179 } as const;

export const BPF_MAP_TYPE = { HASH: 1, ARRAY: 2, PERCPU_HASH: 5, PERCPU_ARRAY: 6, LRU_PERCPU_HASH: 10, RINGBUF: 27 } as const;
export const BTF_KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10,
  RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

export interface OpenOptions {
  objectName?: string;
  btfCustomPath?: string;
}

export const libbpfNative = {
  objectOpen(path: string, opts: OpenOptions): Ptr | null {
    return f.bpf_object__open_file(path, {
      sz: 80,
      object_name: opts.objectName ?? null,
      relaxed_maps: false,
      pin_root_path: null,
      _unused_attach_prog_fd: 0,
      kconfig: null,
      btf_custom_path: opts.btfCustomPath ?? null,
      kernel_log_buf: null,
      kernel_log_size: 0,
      kernel_log_level: 0,
    }) as Ptr | null;
  },
  objectLoad: (obj: Ptr): number => f.bpf_object__load(obj) as number,
  objectClose: (obj: Ptr): void => void f.bpf_object__close(obj),
  objectName: (obj: Ptr): string => f.bpf_object__name(obj) as string,
  objectBtf: (obj: Ptr): Ptr | null => f.bpf_object__btf(obj) as Ptr | null,
  objectPrograms(obj: Ptr): Ptr[] {
    const out: Ptr[] = [];
    for (let p = f.bpf_object__next_program(obj, null) as Ptr | null; p; p = f.bpf_object__next_program(obj, p) as Ptr | null) out.push(p);
    return out;
  },
  objectMaps(obj: Ptr): Ptr[] {
    const out: Ptr[] = [];
    for (let m = f.bpf_object__next_map(obj, null) as Ptr | null; m; m = f.bpf_object__next_map(obj, m) as Ptr | null) out.push(m);
    return out;
  },
  programName: (prog: Ptr): string => f.bpf_program__name(prog) as string,
  programSection: (prog: Ptr): string => f.bpf_program__section_name(prog) as string,
  programAutoload: (prog: Ptr): boolean => f.bpf_program__autoload(prog) as boolean,
  programSetAutoload: (prog: Ptr, on: boolean): number => f.bpf_program__set_autoload(prog, on) as number,
  programFd: (prog: Ptr): number => f.bpf_program__fd(prog) as number,
  programAttach: (prog: Ptr): Ptr | null => f.bpf_program__attach(prog) as Ptr | null,
  linkDestroy: (link: Ptr): number => f.bpf_link__destroy(link) as number,
  mapName: (map: Ptr): string => f.bpf_map__name(map) as string,
  mapFd: (map: Ptr): number => f.bpf_map__fd(map) as number,
  mapType: (map: Ptr): number => f.bpf_map__type(map) as number,
  mapKeySize: (map: Ptr): number => f.bpf_map__key_size(map) as number,
  mapValueSize: (map: Ptr): number => f.bpf_map__value_size(map) as number,
  mapMaxEntries: (map: Ptr): number => f.bpf_map__max_entries(map) as number,
  mapIsInternal: (map: Ptr): boolean => f.bpf_map__is_internal(map) as boolean,
  /** Copy of a map's initial value (the .rodata/.data image before load), or null. */
  mapInitialValue(map: Ptr): Uint8Array | null {
    const size = [0];
    const p = f.bpf_map__initial_value(map, size) as Ptr | null;
    if (!p || size[0] === 0) return null;
    return Uint8Array.from(koffi.decode(p, koffi.array('uint8_t', size[0], 'Typed')) as Uint8Array);
  },
  mapSetInitialValue: (map: Ptr, data: Uint8Array): number => f.bpf_map__set_initial_value(map, data, data.length) as number,
  mapSetMaxEntries: (map: Ptr, n: number): number => f.bpf_map__set_max_entries(map, n) as number,
  mapLookup: (fd: number, key: Uint8Array | null, value: Uint8Array): number => f.bpf_map_lookup_elem(fd, key, value) as number,
  mapUpdate: (fd: number, key: Uint8Array, value: Uint8Array, flags: number): number =>
    f.bpf_map_update_elem(fd, key, value, flags) as number,
  mapDelete: (fd: number, key: Uint8Array): number => f.bpf_map_delete_elem(fd, key) as number,
  /** The value and the deletion in one step (BPF_MAP_LOOKUP_AND_DELETE_ELEM; hash maps since Linux 5.14). */
  mapLookupAndDelete: (fd: number, key: Uint8Array, value: Uint8Array): number => f.bpf_map_lookup_and_delete_elem(fd, key, value) as number,
  mapNextKey: (fd: number, key: Uint8Array | null, next: Uint8Array): number => f.bpf_map_get_next_key(fd, key, next) as number,
  /**
   * One batch of a map (BPF_MAP_LOOKUP_BATCH): up to count.[0] entries into
   * keys/values from the position in inBatch (null: the start); outBatch gets
   * the next position. count[0] becomes the number read; -ENOENT: the last batch.
   */
  mapLookupBatch: (fd: number, inBatch: Uint8Array | null, outBatch: Uint8Array, keys: Uint8Array, values: Uint8Array, count: number[]): number =>
    f.bpf_map_lookup_batch(fd, inBatch, outBatch, keys, values, count, null) as number,
  /**
   * Runs a loaded program once with `ctx` as its context (raw_tp: the u64
   * arguments; a syscall program: its argument struct, which the kernel
   * copies back into the same buffer); 0 or -errno, and its return value.
   */
  programTestRun(fd: number, ctx: Uint8Array): { rc: number; retval: number } {
    const opts = {
      sz: 80, data_in: null, data_out: null, data_size_in: 0, data_size_out: 0, ctx_in: ctx, ctx_out: null,
      ctx_size_in: ctx.length, ctx_size_out: 0, retval: 0, repeat: 0, duration: 0, flags: 0, cpu: 0, batch_size: 0,
    };
    const rc = f.bpf_prog_test_run_opts(fd, opts) as number;
    return { rc, retval: opts.retval | 0 };
  },
  numPossibleCpus: (): number => f.libbpf_num_possible_cpus() as number,
  /** 1 when programs of prog_type may call helper_id on this kernel, 0 when not, < 0 on error (libbpf_probe_bpf_helper). */
  probeHelper: (progType: number, helperId: number): number => f.libbpf_probe_bpf_helper(progType, helperId, null) as number,
  /** libbpf's text for an error code, including its own LIBBPF_ERRNO__* codes (4000+). */
  strerror(err: number): string {
    const buf = new Uint8Array(256);
    f.libbpf_strerror(err, buf, buf.length);
    const end = buf.indexOf(0);
    return Buffer.from(buf.subarray(0, end < 0 ? buf.length : end)).toString('utf8');
  },
};

export interface BtfTypeHeader {
  nameOff: number;
  /** bits 0-15 vlen, 24-28 kind, 31 kind_flag */
  info: number;
  /** size for INT/ENUM/STRUCT/UNION/DATASEC, type id for PTR/TYPEDEF/VAR/modifiers */
  sizeOrType: number;
}

export const btfNative = {
  loadVmlinux: (): Ptr | null => f.btf__load_vmlinux_btf() as Ptr | null,
  parse: (path: string): Ptr | null => f.btf__parse(path, null) as Ptr | null,
  free: (btf: Ptr): void => void f.btf__free(btf),
  /** type id, or a negative errno (-ENOENT when absent) */
  findByNameKind: (btf: Ptr, name: string, kind: number): number => f.btf__find_by_name_kind(btf, name, kind) as number,
  typeCount: (btf: Ptr): number => f.btf__type_cnt(btf) as number,
  /** Raw struct btf_type pointer for an id (null when out of range). */
  typeById: (btf: Ptr, id: number): Ptr | null => f.btf__type_by_id(btf, id) as Ptr | null,
  nameByOffset: (btf: Ptr, off: number): string => (f.btf__name_by_offset(btf, off) as string | null) ?? '',
  resolveSize: (btf: Ptr, id: number): number => Number(f.btf__resolve_size(btf, id)),
  /** The 12-byte header of a btf_type. */
  readTypeHeader(t: Ptr): BtfTypeHeader {
    const h = koffi.decode(t, BtfTypeHdr) as { name_off: number; info: number; size_or_type: number };
    return { nameOff: h.name_off, info: h.info, sizeOrType: h.size_or_type };
  },
  /** `count` u32 words that follow a btf_type header (members, array info, var secinfos...). */
  readTrailingU32(t: Ptr, count: number): Uint32Array {
    if (count === 0) return new Uint32Array(0);
    return Uint32Array.from(koffi.decode(t, 12, koffi.array('uint32_t', count, 'Typed')) as Uint32Array);
  },
};

// ---------------------------------------------------------------------------
// Memory mappings (ring buffers)

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;

let pageSizeCache = 0;
export function pageSize(): number {
  if (pageSizeCache === 0) pageSizeCache = f.getpagesize() as number;
  return pageSizeCache;
}

/** mmap(2) a file descriptor; returns the address or a negative errno. */
export function mmapFd(length: number, prot: number, fd: number, offset: number): Ptr | number {
  const p = f.mmap(null, length, prot, MAP_SHARED, fd, offset) as Ptr | null;
  if (p === null || p === MAP_FAILED) return -(lastErrno() || 22);
  return p;
}

export function munmap(addr: Ptr, length: number): number {
  return (f.munmap(addr, length) as number) === 0 ? 0 : -lastErrno();
}

/** Hand memory free()d by libbpf (a parsed kernel BTF) back to the system. */
export function releaseFreedNativeMemory(): void {
  f.malloc_trim(0);
}

const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;

/**
 * Atomically replace [addr, addr+length) with private zero pages: the old
 * mapping (and the kernel object it held) is released, but the addresses stay
 * valid, so a view that outlived it reads zeros instead of crashing. Returns 0
 * or a negative errno.
 */
export function replaceWithZeroPages(addr: Ptr, length: number): number {
  const p = f.mmap(addr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) as Ptr | null;
  if (p === null || p === MAP_FAILED) return -(lastErrno() || 22);
  return p === addr ? 0 : -22;
}

/**
 * An ArrayBuffer over native memory, without a copy. It does NOT keep the
 * memory alive: every such view must be dropped before the memory is freed
 * or unmapped (touching it afterwards crashes the process).
 */
export function externalView(addr: Ptr, length: number): ArrayBuffer {
  return koffi.view(addr, length);
}

// ---------------------------------------------------------------------------
// libbpf log capture

export type LibbpfLogLevel = 'warn' | 'info' | 'debug';
export interface LibbpfLogMessage {
  seq: number;
  level: LibbpfLogLevel;
  text: string;
}

const LEVELS: LibbpfLogLevel[] = ['warn', 'info', 'debug'];
const LOG_KEEP = 512; // messages kept; a failed load's verifier log is a single message
let logSeq = 0;
const logRing: LibbpfLogMessage[] = [];
let printCb: bigint | null = null;
let fmtBuf: any = null; // koffi.alloc'd output buffer (grown on demand)
let fmtBufSize = 0;
let vaCopy: any = null; // koffi.alloc'd scratch for va_copy
const listeners = new Set<(m: LibbpfLogMessage) => void>();
let captureDebug = process.env.ISOLWATCH_LIBBPF_DEBUG === '1';

function ensureFmtBuf(size: number): void {
  if (fmtBufSize >= size) return;
  if (fmtBuf) koffi.free(fmtBuf);
  fmtBufSize = Math.max(size, 64 * 1024);
  fmtBuf = koffi.alloc('uint8_t', fmtBufSize);
}

function formatMessage(fmt: Ptr, ap: Ptr): string {
  if (VA_LIST_SIZE === null) return `${koffi.decode.string(fmt)} (arguments not formatted on ${process.arch})`;
  ensureFmtBuf(64 * 1024);
  f.memcpy(vaCopy, ap, VA_LIST_SIZE);
  let n = f.vsnprintf(fmtBuf, fmtBufSize, fmt, vaCopy) as number;
  if (n < 0) return koffi.decode.string(fmt);
  if (n >= fmtBufSize) {
    // Too long (a big verifier log): grow and format again from a fresh copy.
    ensureFmtBuf(n + 1);
    f.memcpy(vaCopy, ap, VA_LIST_SIZE);
    n = f.vsnprintf(fmtBuf, fmtBufSize, fmt, vaCopy) as number;
    if (n < 0) return koffi.decode.string(fmt);
  }
  const text = koffi.decode.string(fmtBuf, Math.min(n, fmtBufSize - 1));
  if (fmtBufSize > 1024 * 1024) {
    // a verifier log grew it: do not keep megabytes for one-line messages
    koffi.free(fmtBuf);
    fmtBuf = null;
    fmtBufSize = 0;
  }
  return text;
}

function onPrint(level: number, fmt: Ptr | null, ap: Ptr | null): number {
  // Never let an exception unwind into libbpf.
  try {
    const lvl = LEVELS[level] ?? 'debug';
    if (lvl === 'debug' && !captureDebug && listeners.size === 0) return 0;
    if (!fmt || !ap) return 0;
    const msg: LibbpfLogMessage = { seq: ++logSeq, level: lvl, text: formatMessage(fmt, ap) };
    if (lvl !== 'debug' || captureDebug) {
      logRing.push(msg);
      if (logRing.length > LOG_KEEP) logRing.splice(0, logRing.length - LOG_KEEP);
    }
    for (const l of listeners) l(msg);
  } catch {
    /* a broken listener must not break libbpf */
  }
  return 0;
}

/** Route libbpf's log into the in-memory buffer (idempotent; done before any libbpf call that logs). */
export function installLibbpfPrint(): void {
  if (printCb !== null) return;
  if (VA_LIST_SIZE !== null) vaCopy = koffi.alloc('uint8_t', VA_LIST_SIZE);
  printCb = koffi.register(onPrint, koffi.pointer(PrintFn));
  f.libbpf_set_print(printCb);
}

/**
 * Give libbpf back its default printer and release the callback. Only call
 * this when no libbpf call can be in progress; the callback stays valid until
 * libbpf has stopped referring to it.
 */
export function uninstallLibbpfPrint(): void {
  if (printCb === null) return;
  f.libbpf_set_print(null); // libbpf no longer calls us after this returns
  koffi.unregister(printCb);
  printCb = null;
  if (vaCopy) koffi.free(vaCopy);
  vaCopy = null;
  if (fmtBuf) koffi.free(fmtBuf);
  fmtBuf = null;
  fmtBufSize = 0;
}

/** A position in the log; pass it to libbpfLogSince() to get what an operation printed. */
export function libbpfLogMark(): number {
  return logSeq;
}

export function libbpfLogSince(mark: number): LibbpfLogMessage[] {
  return logRing.filter((m) => m.seq > mark);
}

/** Observe every libbpf message (including debug ones) as it is printed; returns an unsubscribe function. */
export function onLibbpfLog(listener: (m: LibbpfLogMessage) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Keep libbpf's debug messages in the buffer too (default: env ISOLWATCH_LIBBPF_DEBUG=1). */
export function setLibbpfDebugCapture(on: boolean): void {
  captureDebug = on;
}

// ---------------------------------------------------------------------------
// Handle registry: every native resource the libbpf layer creates is tracked
// from creation to release, so a test can assert that close() released all.

export type HandleKind = 'bpf_object' | 'bpf_link' | 'btf' | 'mmap';
const handles = new Map<number, { kind: HandleKind; label: string }>();
let nextHandleId = 1;

export function trackHandle(kind: HandleKind, label: string): number {
  const id = nextHandleId++;
  handles.set(id, { kind, label });
  return id;
}

export function untrackHandle(id: number): void {
  handles.delete(id);
}

/** Native handles (objects, links, BTFs, mappings) created and not yet released. */
export function openHandleCount(): number {
  return handles.size;
}

/** What is still open, for leak reports: "bpf_link iwt_sys_enter", ... */
export function openHandles(): string[] {
  return [...handles.values()].map((h) => `${h.kind} ${h.label}`);
}
