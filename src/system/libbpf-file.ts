// Which libbpf.so.1 the dynamic loader would give isolwatch, and its version,
// found without loading it: --version must stay fast and work where libbpf is
// missing (commands that do not trace never load libbpf). Searched in the
// loader's order for a dlopen from node (which has no RPATH): LD_LIBRARY_PATH,
// /etc/ld.so.cache, the default directories. A file that is not an ELF library
// for this architecture is passed over, as the loader does. The version is the
// real file's name: libbpf.so.1 -> libbpf.so.1.1.2 is 1.1.2.
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';

export const LIBBPF_SONAME = 'libbpf.so.1';
/** What to install when libbpf is missing (one place: ffi.ts says it when loading fails). */
export const LIBBPF_INSTALL_HINT = 'install the system libbpf (Debian/Ubuntu: apt-get install libbpf1; Fedora/RHEL: dnf install libbpf)';

// ---------------------------------------------------------------------------
// /etc/ld.so.cache (glibc's "new" format, alone or after the old libc5 table)

export interface CacheEntry {
  /** the soname, e.g. libbpf.so.1 */
  name: string;
  /** the path the loader opens */
  path: string;
  /** ldconfig's flags: ELF type (low byte) and required architecture (high byte) */
  flags: number;
}

const CACHE_MAGIC = 'glibc-ld.so.cache1.1';
const HEADER_SIZE = 48; // magic 20, nlibs, len_strings, flags + 3, extension_offset, unused[3]
const ENTRY_SIZE = 24; // flags, key, value, osversion (u32 each), hwcap (u64)

export class CacheFormatError extends Error {}

/** The entries of an ld.so.cache, in file order (the loader takes the first that fits). */
export function parseLdSoCache(buf: Buffer): CacheEntry[] {
  const base = buf.indexOf(CACHE_MAGIC, 0, 'latin1');
  if (base < 0) throw new CacheFormatError(`no "${CACHE_MAGIC}" header`);
  if (buf.length < base + HEADER_SIZE) throw new CacheFormatError('truncated header');
  const bigEndian = (buf[base + 28] & 3) === 3; // 2: little endian, 0: written before the flag existed
  const u32 = (at: number) => (bigEndian ? buf.readUInt32BE(at) : buf.readUInt32LE(at));
  const nlibs = u32(base + 20);
  if (buf.length < base + HEADER_SIZE + nlibs * ENTRY_SIZE) throw new CacheFormatError(`${nlibs} entries do not fit in ${buf.length} bytes`);
  // string offsets count from the new header's first byte
  const str = (off: number) => {
    const at = base + off;
    const end = buf.indexOf(0, at);
    if (off === 0 || at >= buf.length || end < 0) throw new CacheFormatError(`string offset ${off} is outside the file`);
    return buf.toString('utf8', at, end);
  };
  const out: CacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const e = base + HEADER_SIZE + i * ENTRY_SIZE;
    out.push({ flags: u32(e), name: str(u32(e + 4)), path: str(u32(e + 8)) });
  }
  return out;
}

// ldconfig's FLAG_ELF_LIBC6 with the FLAG_*_LIB64 each 64-bit architecture requires
const CACHE_FLAGS: Record<string, number> = { x64: 0x0303, arm64: 0x0a03 };
// e_machine of this architecture's ELF files, and the multiarch triplet of Debian-like systems
const ELF_MACHINE: Record<string, number> = { x64: 62, arm64: 183 };
const TRIPLET: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** Whether a cache entry is for this architecture (unknown architectures: any libc6 entry). */
export function cacheEntryFits(e: CacheEntry, arch: string): boolean {
  const want = CACHE_FLAGS[arch];
  return want === undefined ? (e.flags & 0xff) === 0x03 : e.flags === want;
}

/** The loader's default directories for this architecture, most specific first. */
export function defaultLibDirs(arch: string): string[] {
  const t = TRIPLET[arch];
  return [...(t ? [`/lib/${t}`, `/usr/lib/${t}`] : []), '/lib64', '/usr/lib64', '/lib', '/usr/lib'];
}

/** The version in a library's real file name: libbpf.so.1.1.2 -> 1.1.2; undefined for a bare libbpf.so.1. */
export function versionFromFileName(file: string): string | undefined {
  return /^libbpf\.so\.(\d+\.\d+(?:\.\d+)*)$/.exec(basename(file))?.[1];
}

/** Why a file (its first 20 bytes) is not a library the loader would take for this architecture; undefined when it is. */
export function elfProblem(head: Buffer, arch: string): string | undefined {
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
  const machine = ELF_MACHINE[arch];
  if (machine === undefined) return undefined;
  if (head[4] !== 2) return 'a 32-bit ELF file';
  const m = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  return m === machine ? undefined : `an ELF file for machine ${m}, not ${arch}`;
}

// ---------------------------------------------------------------------------
// The search

export interface LibbpfFound {
  found: true;
  /** the path the loader would open (usually the libbpf.so.1 symlink) */
  path: string;
  /** where that leads: its name carries the version */
  realPath: string;
  version: string | undefined;
  via: string;
}
export interface LibbpfMissing {
  found: false;
  /** where it looked */
  searched: string[];
  /** files named libbpf.so.1 it found and did not take, with why */
  passedOver: string[];
}

export interface SearchOptions {
  arch?: string;
  env?: NodeJS.ProcessEnv;
  cacheFile?: string;
  defaultDirs?: string[];
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(20);
    return b.subarray(0, readSync(fd, b, 0, 20, 0));
  } finally {
    closeSync(fd);
  }
}

export function findLibbpf(o: SearchOptions = {}): LibbpfFound | LibbpfMissing {
  const arch = o.arch ?? process.arch;
  const env = o.env ?? process.env;
  const cacheFile = o.cacheFile ?? '/etc/ld.so.cache';
  const searched: string[] = [];
  const passedOver: string[] = [];

  const take = (path: string, via: string): LibbpfFound | undefined => {
    if (!existsSync(path)) return undefined;
    let realPath = path;
    let why: string | undefined;
    try {
      realPath = realpathSync(path);
      why = elfProblem(readHead(realPath), arch);
    } catch (e) {
      why = `unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    }
    if (why) {
      passedOver.push(`${realPath}: ${why}`);
      return undefined;
    }
    return { found: true, path, realPath, version: versionFromFileName(realPath), via };
  };

  const ldPath = (env.LD_LIBRARY_PATH ?? '').split(/[:;]/).filter(Boolean);
  if (ldPath.length) searched.push('LD_LIBRARY_PATH');
  for (const dir of ldPath) {
    const hit = take(join(dir, LIBBPF_SONAME), 'LD_LIBRARY_PATH');
    if (hit) return hit;
  }

  let cache: CacheEntry[] = [];
  try {
    cache = parseLdSoCache(readFileSync(cacheFile));
    searched.push(cacheFile);
  } catch (e) {
    searched.push(`${cacheFile} (${e instanceof CacheFormatError ? `unreadable: ${e.message}` : 'missing'})`);
  }
  for (const e of cache) {
    if (e.name !== LIBBPF_SONAME || !cacheEntryFits(e, arch)) continue;
    const hit = take(e.path, cacheFile);
    if (hit) return hit;
  }

  const dirs = o.defaultDirs ?? defaultLibDirs(arch);
  searched.push(...dirs);
  for (const dir of dirs) {
    const hit = take(join(dir, LIBBPF_SONAME), 'default directories');
    if (hit) return hit;
  }
  return { found: false, searched, passedOver: [...new Set(passedOver)] };
}

/** The --version line: "libbpf: 1.1.2 (/usr/lib/x86_64-linux-gnu/libbpf.so.1.1.2)" or "libbpf: not found (...)". */
export function describeLibbpf(r: LibbpfFound | LibbpfMissing): string {
  if (!r.found) {
    const over = r.passedOver.length ? `; passed over ${r.passedOver.join(', ')}` : '';
    return `libbpf: not found (searched ${r.searched.join(', ')}${over}): ${LIBBPF_INSTALL_HINT}`;
  }
  return `libbpf: ${r.version ?? 'version unknown'} (${r.realPath}${r.via === 'LD_LIBRARY_PATH' ? ', from LD_LIBRARY_PATH' : ''})`;
}
