// A live BPF object: open -> configure (.rodata settings, autoload) -> load ->
// attach -> read maps / ring buffers -> close. Never open_and_load: settings
// must land between open and load. One teardown path (close) releases, in
// order: ring buffer mappings, links, then the object (maps and programs).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  BPF_FUNC,
  BPF_MAP_TYPE,
  BPF_PROG_TYPE,
  installLibbpfPrint,
  lastErrno,
  libbpfLogMark,
  libbpfLogSince,
  libbpfNative as L,
  releaseFreedNativeMemory,
  trackHandle,
  untrackHandle,
  type Ptr,
} from './ffi.js';
import { EACCES, EINVAL, ENOENT, EOPNOTSUPP, EPERM, ESRCH, LibbpfError, PermissionError, VerifierError, extractVerifierLog } from './errors.js';
import { datasecVariables } from './btf.js';
import { RingBufferReader } from './ringbuf.js';

export { openHandleCount, openHandles } from './ffi.js';

let possibleCpus = 0;

/**
 * One numeric field of a BPF object's fdinfo text (/proc/PID/fdinfo/FD: prog_id, run_cnt,
 * recursion_misses, ...); undefined when the kernel does not write it (recursion_misses before 5.12).
 */
export function fdinfoField(fdinfo: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s*(\\d+)\\s*$`, 'm').exec(fdinfo);
  return m ? Number(m[1]) : undefined;
}

/** Number of possible CPUs (the per-CPU map value count), from libbpf. */
export function numPossibleCpus(): number {
  if (possibleCpus > 0) return possibleCpus;
  const n = L.numPossibleCpus();
  if (n <= 0) throw new LibbpfError('libbpf_num_possible_cpus', -n, { hint: 'is /sys/devices/system/cpu/possible readable?' });
  possibleCpus = n;
  return n;
}

const PERCPU_TYPES = new Set<number>([BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.PERCPU_ARRAY, BPF_MAP_TYPE.LRU_PERCPU_HASH, 21 /* PERCPU_CGROUP_STORAGE */]);

function logTexts(mark: number): string[] {
  return libbpfLogSince(mark).map((m) => m.text);
}

/** LibbpfError, or PermissionError for EPERM/EACCES. */
function opError(op: string, errno: number, log: string[], hint?: string): LibbpfError {
  const e = Math.abs(errno);
  if (e === EPERM || e === EACCES) return new PermissionError(op, e, { libbpfLog: log });
  return new LibbpfError(op, e, { libbpfLog: log, hint });
}

export interface ProgramInfo {
  name: string;
  /** ELF section, e.g. "tp_btf/sched_switch" */
  section: string;
  /** what the section names after its type prefix, e.g. "sched_switch" */
  attachTarget?: string;
  autoload: boolean;
}

type State = 'opened' | 'loaded' | 'failed' | 'closed';

export class BpfObject {
  private ptr: Ptr | null;
  private readonly handleId: number;
  private state: State = 'opened';
  private readonly programs = new Map<string, Ptr>();
  private readonly mapPtrs = new Map<string, Ptr>();
  private readonly links: { prog: string; link: Ptr; handle: number }[] = [];
  private readonly readers = new Map<string, RingBufferReader>();
  private readonly mapCache = new Map<string, BpfMap>();
  /** file name of the object, used in messages */
  readonly file: string;

  private constructor(ptr: Ptr, readonly path: string) {
    this.ptr = ptr;
    this.file = basename(path);
    this.handleId = trackHandle('bpf_object', this.file);
    for (const p of L.objectPrograms(ptr)) this.programs.set(L.programName(p), p);
    for (const m of L.objectMaps(ptr)) this.mapPtrs.set(L.mapName(m), m);
  }

  /** Open (parse) a .bpf.o. Nothing reaches the kernel until load(). */
  static open(path: string, opts: { btfCustomPath?: string } = {}): BpfObject {
    installLibbpfPrint();
    const mark = libbpfLogMark();
    const ptr = L.objectOpen(path, { btfCustomPath: opts.btfCustomPath });
    if (ptr === null) {
      const errno = lastErrno();
      const hint = errno === ENOENT ? 'build it first (make -f scripts/Makefile) or check the path' : undefined;
      throw opError(`bpf_object__open_file(${path})`, errno, logTexts(mark), hint);
    }
    return new BpfObject(ptr, path);
  }

  private get raw(): Ptr {
    if (this.ptr === null) throw new Error(`BPF object ${this.file} used after close()`);
    return this.ptr;
  }

  private program(name: string): Ptr {
    this.raw;
    const p = this.programs.get(name);
    if (p === undefined) throw new Error(`${this.file} has no program '${name}' (programs: ${this.programNames().join(', ') || 'none'})`);
    return p;
  }

  private requireState(want: State, what: string): void {
    this.raw;
    if (this.state !== want) {
      const now = this.state === 'failed' ? 'its load failed' : `it is ${this.state}`;
      throw new Error(`${what} on ${this.file} needs the object ${want}, but ${now}`);
    }
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get isLoaded(): boolean {
    return this.state === 'loaded';
  }

  programNames(): string[] {
    this.raw;
    return [...this.programs.keys()];
  }

  programInfo(name: string): ProgramInfo {
    const p = this.program(name);
    const section = L.programSection(p);
    const slash = section.indexOf('/');
    const attachTarget = slash >= 0 && slash < section.length - 1 ? section.slice(slash + 1) : undefined;
    return { name, section, attachTarget, autoload: L.programAutoload(p) };
  }

  /** The program's fd after load (owned by the object: do not close it). */
  programFd(name: string): number {
    const p = this.program(name);
    this.requireState('loaded', `programFd(${name})`);
    const fd = L.programFd(p);
    if (fd < 0) throw new LibbpfError(`bpf_program__fd(${name})`, fd, { hint: 'was it disabled with setAutoload(false)?' });
    return fd;
  }

  /** The kernel's id of a loaded program (what `bpftool prog show` lists), from /proc/self/fdinfo. */
  programId(name: string): number {
    const fd = this.programFd(name);
    const id = fdinfoField(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'), 'prog_id');
    if (id === undefined) throw new Error(`no prog_id in /proc/self/fdinfo/${fd} for program ${name}`);
    return id;
  }

  /**
   * What the kernel counts of a loaded program (/proc/self/fdinfo): `misses`, the runs it
   * skipped because a program was already running on that CPU (recursion_misses, 5.12+; 0
   * before): for a tracepoint program, itself, interrupted; for a kprobe, any kprobe program.
   * `runs` and `runNs` only while kernel.bpf_stats_enabled is 1 (0 otherwise).
   */
  programStats(name: string): { runs: number; runNs: number; misses: number } {
    const text = readFileSync(`/proc/self/fdinfo/${this.programFd(name)}`, 'utf8');
    const field = (f: string) => fdinfoField(text, f) ?? 0;
    return { runs: field('run_cnt'), runNs: field('run_time_ns'), misses: field('recursion_misses') };
  }

  /** Include (default) or skip a program at load/attach; only before load(). */
  setAutoload(progName: string, on: boolean): void {
    const p = this.program(progName);
    this.requireState('opened', `setAutoload(${progName})`);
    const rc = L.programSetAutoload(p, on);
    if (rc < 0) throw new LibbpfError(`bpf_program__set_autoload(${progName})`, rc);
  }

  /** Names of the object's maps, including internal ones (".rodata", ".bss"). */
  mapNames(): string[] {
    this.raw;
    return [...this.mapPtrs.keys()];
  }

  private internalMap(suffix: string): Ptr | undefined {
    for (const [name, m] of this.mapPtrs) if (name.endsWith(suffix) && L.mapIsInternal(m)) return m;
    return undefined;
  }

  /** Offsets/sizes of the `const volatile` settings in .rodata, from the object's BTF DATASEC. */
  rodataVariables(): Map<string, { offset: number; size: number }> {
    const btf = L.objectBtf(this.raw);
    return btf === null ? new Map() : datasecVariables(btf, '.rodata');
  }

  /** Write a `const volatile` global (a setting) before load; bytes must be exactly its size, little-endian. */
  setRodata(varName: string, bytes: Uint8Array): void {
    this.requireState('opened', `setRodata(${varName})`);
    const vars = this.rodataVariables();
    const v = vars.get(varName);
    if (v === undefined) {
      throw new Error(
        `${this.file} has no .rodata variable '${varName}' (has: ${[...vars.keys()].join(', ') || 'none'}); declare it as \`const volatile\` and make sure the program uses it`,
      );
    }
    if (bytes.length !== v.size) throw new Error(`setRodata(${varName}) on ${this.file}: the variable is ${v.size} bytes, got ${bytes.length}`);
    const map = this.internalMap('.rodata');
    const image = map === undefined ? null : L.mapInitialValue(map);
    if (map === undefined || image === null) throw new Error(`${this.file} has no .rodata map to write '${varName}' into`);
    if (v.offset + v.size > image.length) throw new Error(`.rodata of ${this.file} is ${image.length} bytes; '${varName}' at ${v.offset}+${v.size} does not fit`);
    image.set(bytes, v.offset);
    const rc = L.mapSetInitialValue(map, image);
    if (rc < 0) throw new LibbpfError(`bpf_map__set_initial_value(${L.mapName(map)}, ${varName})`, rc);
  }

  /** Resize a map before load (a ring buffer: a power of 2 multiple of the page size). */
  setMaxEntries(mapName: string, n: number): void {
    this.requireState('opened', `setMaxEntries(${mapName})`);
    const m = this.mapPtrs.get(mapName);
    if (m === undefined) throw new Error(`${this.file} has no map '${mapName}'`);
    const rc = L.mapSetMaxEntries(m, n);
    if (rc < 0) throw new LibbpfError(`bpf_map__set_max_entries(${mapName}, ${n})`, rc);
  }

  /** Create maps, relocate and verify programs. Throws VerifierError / PermissionError / LibbpfError. */
  load(): void {
    this.requireState('opened', 'load()');
    const mark = libbpfLogMark();
    const rc = L.objectLoad(this.raw);
    // libbpf parsed the kernel's BTF for CO-RE (tens of MB) and freed it: give that back to the system
    releaseFreedNativeMemory();
    if (rc >= 0) {
      this.state = 'loaded';
      return;
    }
    this.state = 'failed';
    const op = `bpf_object__load(${this.file})`;
    const log = logTexts(mark);
    const verifier = extractVerifierLog(log);
    if (verifier) throw new VerifierError(op, rc, verifier.program, verifier.log, { libbpfLog: log });
    const missing = log.map((l) => /prog '([^']+)': failed to find kernel BTF type ID of '([^']+)'/.exec(l)).find((m) => m);
    if (missing && Math.abs(rc) === ESRCH) {
      throw new LibbpfError(
        op,
        rc,
        { libbpfLog: log, hint: `probe optional targets with hasTracepoint() and call setAutoload('${missing[1]}', false) before load()` },
        `program '${missing[1]}' attaches to '${missing[2]}', which this kernel's BTF does not have`,
      );
    }
    throw opError(op, rc, log);
  }

  /**
   * Runs a loaded program once (bpf_prog_test_run) with `ctx` as its context:
   * for a raw_tp program, its u64 arguments. Returns the program's return value.
   */
  testRun(progName: string, ctx: Uint8Array): number {
    const fd = this.programFd(progName);
    const { rc, retval } = L.programTestRun(fd, ctx);
    if (rc < 0) throw opError(`bpf_prog_test_run_opts(${progName} in ${this.file})`, rc, []);
    return retval;
  }

  /**
   * Attach every autoloaded program (but those `skip` names: programs that
   * are only run on demand) and return their names, in the order of `rank`
   * (lowest first; equal ranks in the object's order; detachAll() goes in
   * reverse). On a failure the
   * programs attached by this call are detached again, and the error names the program.
   */
  attachAll(skip: (name: string) => boolean = () => false, rank: (name: string) => number = () => 0): string[] {
    this.requireState('loaded', 'attachAll()');
    if (this.links.length > 0) throw new Error(`attachAll() on ${this.file}: already attached (${this.attachedPrograms().join(', ')})`);
    const names: string[] = [];
    const ordered = [...this.programs].map((e, i) => ({ e, i, r: rank(e[0]) })).sort((a, b) => a.r - b.r || a.i - b.i);
    for (const {
      e: [name, p],
    } of ordered) {
      if (!L.programAutoload(p) || skip(name)) continue;
      const mark = libbpfLogMark();
      const link = L.programAttach(p);
      if (link === null) {
        const errno = lastErrno();
        const log = logTexts(mark);
        this.detachAll();
        const info = this.programInfo(name);
        const hint =
          errno === EOPNOTSUPP || errno === 524
            ? `section '${info.section}' does not say where to attach, so libbpf cannot auto-attach it: name the target in SEC(), or setAutoload('${name}', false)`
            : undefined;
        throw opError(`bpf_program__attach(${name} in ${this.file}, section ${info.section})`, errno, log, hint);
      }
      this.links.push({ prog: name, link, handle: trackHandle('bpf_link', name) });
      names.push(name);
    }
    return names;
  }

  /** Names of the programs currently attached by attachAll(). */
  attachedPrograms(): string[] {
    return this.links.map((l) => l.prog);
  }

  /** Destroy all links (programs stop running); the object stays loaded. */
  detachAll(): void {
    for (const l of this.links.splice(0).reverse()) {
      L.linkDestroy(l.link);
      untrackHandle(l.handle);
    }
  }

  map(name: string): BpfMap {
    this.requireState('loaded', `map(${name})`);
    const cached = this.mapCache.get(name);
    if (cached) return cached;
    const m = this.mapPtrs.get(name);
    if (m === undefined) throw new Error(`${this.file} has no map '${name}' (maps: ${this.mapNames().join(', ')})`);
    const map = new BpfMap(this, name, m);
    this.mapCache.set(name, map);
    return map;
  }

  /** A reader over a BPF_MAP_TYPE_RINGBUF map (one per map, closed with the object). */
  ringBuffer(mapName: string): RingBufferReader {
    const map = this.map(mapName);
    const open = this.readers.get(mapName);
    if (open && !open.closed) return open;
    if (map.type !== BPF_MAP_TYPE.RINGBUF) throw new Error(`ringBuffer(${mapName}) on ${this.file}: map type ${map.type} is not a ring buffer (${BPF_MAP_TYPE.RINGBUF})`);
    const reader = RingBufferReader.open(map.fd, map.maxEntries, mapName);
    this.readers.set(mapName, reader);
    return reader;
  }

  /**
   * Release everything, in order: ring buffer mappings (views dropped first),
   * links (programs detached), then the object (programs and maps). Idempotent.
   */
  close(): void {
    if (this.state === 'closed' || this.ptr === null) return;
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
    this.detachAll();
    this.mapCache.clear();
    L.objectClose(this.ptr);
    this.ptr = null;
    this.state = 'closed';
    untrackHandle(this.handleId);
  }
}

/** A loaded map of a BpfObject; valid until the object is closed. Keys and values are raw bytes. */
export class BpfMap {
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly type: number;
  readonly perCpu: boolean;
  private readonly fdValue: number;

  /** @internal use BpfObject.map() */
  constructor(
    private readonly owner: BpfObject,
    readonly name: string,
    map: Ptr,
  ) {
    this.keySize = L.mapKeySize(map);
    this.valueSize = L.mapValueSize(map);
    this.maxEntries = L.mapMaxEntries(map);
    this.type = L.mapType(map);
    this.perCpu = PERCPU_TYPES.has(this.type);
    this.fdValue = L.mapFd(map);
  }

  get fd(): number {
    this.alive();
    return this.fdValue;
  }

  private alive(): void {
    if (this.owner.isClosed) throw new Error(`map ${this.name} used after its object was closed`);
  }

  private checkKey(key: Uint8Array, op: string): void {
    this.alive();
    if (key.length !== this.keySize) throw new Error(`${op}(${this.name}): key is ${key.length} bytes, the map's keys are ${this.keySize}`);
  }

  /** Bytes per CPU in a per-CPU value buffer (value size rounded up to 8). */
  get perCpuStride(): number {
    return (this.valueSize + 7) & ~7;
  }

  lookup(key: Uint8Array): Uint8Array | null {
    this.checkKey(key, 'lookup');
    if (this.perCpu) throw new Error(`lookup(${this.name}): a per-CPU map returns one value per CPU: use lookupPerCpu()`);
    const value = new Uint8Array(this.valueSize);
    const rc = L.mapLookup(this.fdValue, key, value);
    if (rc === -ENOENT) return null;
    if (rc < 0) throw opError(`bpf_map_lookup_elem(${this.name})`, rc, []);
    return value;
  }

  /** One value per possible CPU (index = CPU number). */
  lookupPerCpu(key: Uint8Array): Uint8Array[] {
    this.checkKey(key, 'lookupPerCpu');
    if (!this.perCpu) throw new Error(`lookupPerCpu(${this.name}): not a per-CPU map: use lookup()`);
    const n = numPossibleCpus();
    const stride = this.perCpuStride;
    const buf = new Uint8Array(stride * n);
    const rc = L.mapLookup(this.fdValue, key, buf);
    if (rc === -ENOENT) return [];
    if (rc < 0) throw opError(`bpf_map_lookup_elem(${this.name}, per-CPU)`, rc, []);
    const out: Uint8Array[] = [];
    for (let cpu = 0; cpu < n; cpu++) out.push(buf.slice(cpu * stride, cpu * stride + this.valueSize));
    return out;
  }

  /** flags: 0 BPF_ANY, 1 BPF_NOEXIST, 2 BPF_EXIST. For per-CPU maps use updatePerCpu(). */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.checkKey(key, 'update');
    if (this.perCpu) throw new Error(`update(${this.name}): a per-CPU map takes one value per CPU: use updatePerCpu()`);
    if (value.length !== this.valueSize) throw new Error(`update(${this.name}): value is ${value.length} bytes, the map's values are ${this.valueSize}`);
    const rc = L.mapUpdate(this.fdValue, key, value, flags);
    if (rc < 0) throw opError(`bpf_map_update_elem(${this.name})`, rc, []);
  }

  /** Set a per-CPU value: one entry per possible CPU. */
  updatePerCpu(key: Uint8Array, values: Uint8Array[], flags = 0): void {
    this.checkKey(key, 'updatePerCpu');
    if (!this.perCpu) throw new Error(`updatePerCpu(${this.name}): not a per-CPU map: use update()`);
    const n = numPossibleCpus();
    if (values.length !== n) throw new Error(`updatePerCpu(${this.name}): ${values.length} values for ${n} possible CPUs`);
    const stride = this.perCpuStride;
    const buf = new Uint8Array(stride * n);
    values.forEach((v, cpu) => {
      if (v.length !== this.valueSize) throw new Error(`updatePerCpu(${this.name}): CPU ${cpu} value is ${v.length} bytes, not ${this.valueSize}`);
      buf.set(v, cpu * stride);
    });
    const rc = L.mapUpdate(this.fdValue, key, buf, flags);
    if (rc < 0) throw opError(`bpf_map_update_elem(${this.name}, per-CPU)`, rc, []);
  }

  /** true when the key was there; array maps cannot delete (LibbpfError EINVAL). */
  delete(key: Uint8Array): boolean {
    this.checkKey(key, 'delete');
    const rc = L.mapDelete(this.fdValue, key);
    if (rc === -ENOENT) return false;
    if (rc < 0) throw opError(`bpf_map_delete_elem(${this.name})`, rc, []);
    return true;
  }

  /**
   * Takes an entry out of a hash map: its value, removed in the same step (a
   * program cannot add to it in between), or null when the key is not there.
   * Kernels before 5.14 have no such step for hash maps: a lookup, then a
   * delete.
   */
  take(key: Uint8Array): Uint8Array | null {
    this.checkKey(key, 'take');
    if (this.perCpu) throw new Error(`take(${this.name}): per-CPU maps are not supported`);
    const value = new Uint8Array(this.valueSize);
    const rc = L.mapLookupAndDelete(this.fdValue, key, value);
    if (rc === -ENOENT) return null;
    if (rc === -EINVAL || rc === -524 /* ENOTSUPP */ || rc === -EOPNOTSUPP) {
      const v = this.lookup(key);
      if (v) this.delete(key);
      return v;
    }
    if (rc < 0) throw opError(`bpf_map_lookup_and_delete_elem(${this.name})`, rc, []);
    return value;
  }

  /**
   * Every entry of a (non per-CPU) hash map, read in batches of `batch`
   * entries (one syscall each); the keys and values packed end to end. A map
   * changing meanwhile is read as a batch walk sees it: each entry at most once.
   */
  entries(batch = 1024): { count: number; keys: Uint8Array; values: Uint8Array } {
    this.alive();
    if (this.perCpu) throw new Error(`entries(${this.name}): per-CPU maps are not supported`);
    let cap = Math.min(this.maxEntries, Math.max(batch, 1));
    let keys = new Uint8Array(this.keySize * cap);
    let values = new Uint8Array(this.valueSize * cap);
    let count = 0;
    const tokenSize = Math.max(this.keySize, 8);
    let inBatch: Uint8Array | null = null;
    for (;;) {
      const want = Math.min(batch, this.maxEntries);
      if (count + want > cap) {
        cap = Math.min(this.maxEntries, cap * 2 > count + want ? cap * 2 : count + want);
        const k = new Uint8Array(this.keySize * cap);
        k.set(keys.subarray(0, count * this.keySize));
        const v = new Uint8Array(this.valueSize * cap);
        v.set(values.subarray(0, count * this.valueSize));
        keys = k;
        values = v;
      }
      const room = Math.min(want, cap - count);
      if (room <= 0) break;
      const n = [room];
      const outBatch = new Uint8Array(tokenSize);
      const rc = L.mapLookupBatch(
        this.fdValue,
        inBatch,
        outBatch,
        keys.subarray(count * this.keySize),
        values.subarray(count * this.valueSize),
        n,
      );
      if (rc < 0 && rc !== -ENOENT) {
        if (count === 0 && (rc === -EINVAL || rc === -524 /* ENOTSUPP */ || rc === -EOPNOTSUPP)) return this.entriesOneByOne();
        throw opError(`bpf_map_lookup_batch(${this.name})`, rc, []);
      }
      count += n[0];
      if (rc === -ENOENT) break;
      inBatch = outBatch;
    }
    return { count, keys: keys.subarray(0, count * this.keySize), values: values.subarray(0, count * this.valueSize) };
  }

  /** entries() on kernels without batch operations: two syscalls per entry. */
  private entriesOneByOne(): { count: number; keys: Uint8Array; values: Uint8Array } {
    const ks: Uint8Array[] = [];
    const vs: Uint8Array[] = [];
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (!v) continue; // deleted meanwhile
      ks.push(k);
      vs.push(v);
    }
    const keys = new Uint8Array(ks.length * this.keySize);
    const values = new Uint8Array(vs.length * this.valueSize);
    ks.forEach((k, i) => keys.set(k, i * this.keySize));
    vs.forEach((v, i) => values.set(v, i * this.valueSize));
    return { count: ks.length, keys, values };
  }

  /** All keys, in the kernel's iteration order. */
  keys(): Uint8Array[] {
    this.alive();
    const out: Uint8Array[] = [];
    let prev: Uint8Array | null = null;
    // A hash map changing under us can restart iteration; bound the walk.
    for (let i = 0; i <= this.maxEntries * 2; i++) {
      const next = new Uint8Array(this.keySize);
      const rc = L.mapNextKey(this.fdValue, prev, next);
      if (rc === -ENOENT) return out;
      if (rc < 0) throw opError(`bpf_map_get_next_key(${this.name})`, rc, []);
      out.push(next);
      prev = next;
    }
    return out;
  }
}

export { RingBufferReader };

/** Whether syscall programs may call bpf_kallsyms_lookup_name here (5.16+): isolwatch's iw_kaddr needs it. */
export function kallsymsLookupSupported(): boolean {
  return L.probeHelper(BPF_PROG_TYPE.SYSCALL, BPF_FUNC.kallsyms_lookup_name) === 1;
}
