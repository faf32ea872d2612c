// Finding libbpf.so.1 and its version without loading it (src/system/libbpf-file.ts).
// test/fixtures/ldso/ld.so.cache was written by glibc 2.36's ldconfig (`ldconfig -r ROOT`
// over a root holding copies of libbpf.so.1.1.2 and libz.so.1.2.13 in
// /usr/lib/x86_64-linux-gnu); the machine's own /etc/ld.so.cache is checked against
// `ldconfig -p`, which reads the same file.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheFormatError,
  cacheEntryFits,
  defaultLibDirs,
  describeLibbpf,
  elfProblem,
  findLibbpf,
  parseLdSoCache,
  versionFromFileName,
} from '../../src/system/libbpf-file.js';

const FIXTURE = readFileSync(join(import.meta.dirname, '../fixtures/ldso/ld.so.cache'));

/** The first 20 bytes of node's own executable: a real ELF header of this machine. */
function nodeHead(): Buffer {
  const fd = openSync(process.execPath, 'r');
  try {
    const b = Buffer.alloc(20);
    readSync(fd, b, 0, 20, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

describe('parseLdSoCache', () => {
  it("reads ldconfig's entries in file order", () => {
    expect(parseLdSoCache(FIXTURE)).toEqual([
      { name: 'libz.so.1', path: '/usr/lib/x86_64-linux-gnu/libz.so.1', flags: 0x0303 },
      { name: 'libbpf.so.1', path: '/usr/lib/x86_64-linux-gnu/libbpf.so.1', flags: 0x0303 },
    ]);
  });

  it('finds the new table after an old libc5 one (string offsets count from the new header)', () => {
    const old = Buffer.alloc(16);
    old.write('ld.so-1.7.0', 'latin1'); // magic, then nlibs = 0
    expect(parseLdSoCache(Buffer.concat([old, FIXTURE]))).toEqual(parseLdSoCache(FIXTURE));
  });

  it('rejects what is not a cache, or is cut short', () => {
    expect(() => parseLdSoCache(Buffer.from('hello'))).toThrow(CacheFormatError);
    expect(() => parseLdSoCache(FIXTURE.subarray(0, 60))).toThrow(/2 entries do not fit/);
    expect(() => parseLdSoCache(FIXTURE.subarray(0, 110))).toThrow(/outside the file/);
  });

  it("parses this machine's /etc/ld.so.cache as ldconfig -p lists it", () => {
    const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/sbin:/usr/sbin` } });
    expect(ldconfig.status, ldconfig.stderr).toBe(0);
    const listed = [...ldconfig.stdout.matchAll(/^\t(\S+) \(([^)]*)\) => (.+)$/gm)].map((m) => ({ name: m[1], path: m[3], x64: /x86-64/.test(m[2]) }));
    const ours = parseLdSoCache(readFileSync('/etc/ld.so.cache'));
    expect(listed.length).toBeGreaterThan(10);
    expect(ours.map((e) => ({ name: e.name, path: e.path, x64: e.flags === 0x0303 }))).toEqual(listed);
  });
});

describe('which entries fit this architecture', () => {
  it('x64 takes x86-64 libc6 entries only; an unknown architecture any libc6 entry', () => {
    const [, bpf] = parseLdSoCache(FIXTURE);
    expect(cacheEntryFits(bpf, 'x64')).toBe(true);
    expect(cacheEntryFits(bpf, 'arm64')).toBe(false);
    expect(cacheEntryFits({ ...bpf, flags: 0x0003 }, 'x64')).toBe(false); // i386
    expect(cacheEntryFits({ ...bpf, flags: 0x0a03 }, 'arm64')).toBe(true);
    expect(cacheEntryFits({ ...bpf, flags: 0x0003 }, 'ppc64')).toBe(true);
  });

  it('default directories: multiarch first where the triplet is known', () => {
    expect(defaultLibDirs('x64')).toEqual(['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib']);
    expect(defaultLibDirs('riscv64')).toEqual(['/lib64', '/usr/lib64', '/lib', '/usr/lib']);
  });
});

describe('versionFromFileName', () => {
  it('the version is in the real file name', () => {
    expect(versionFromFileName('libbpf.so.1.1.2')).toBe('1.1.2');
    expect(versionFromFileName('/usr/lib64/libbpf.so.1.4.0')).toBe('1.4.0');
    expect(versionFromFileName('libbpf.so.1.5')).toBe('1.5');
  });

  it('none in a bare soname or another name', () => {
    expect(versionFromFileName('libbpf.so.1')).toBeUndefined();
    expect(versionFromFileName('libbpf.so')).toBeUndefined();
    expect(versionFromFileName('libbpf.so.1.1.2.debug')).toBeUndefined();
    expect(versionFromFileName('libxbpf.so.1.1.2')).toBeUndefined();
  });
});

describe('elfProblem', () => {
  it("node's own header is an ELF file of this machine", () => {
    expect(elfProblem(nodeHead(), process.arch)).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(elfProblem(Buffer.alloc(0), 'x64')).toBe('not an ELF file');
    const h = nodeHead();
    const other = process.arch === 'x64' ? 'arm64' : 'x64';
    expect(elfProblem(h, other)).toMatch(new RegExp(`^an ELF file for machine \\d+, not ${other}$`));
    const h32 = Buffer.from(h);
    h32[4] = 1;
    expect(elfProblem(h32, process.arch)).toBe('a 32-bit ELF file');
  });
});

describe('findLibbpf over real directories', () => {
  let dir = '';
  const lib = (d: string, real: string, content: Buffer) => {
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, real), content);
    symlinkSync(real, join(d, 'libbpf.so.1'));
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iwt-libbpf-'));
    lib(join(dir, 'ld'), 'libbpf.so.1.4.7', nodeHead());
    lib(join(dir, 'default'), 'libbpf.so.1.1.2', nodeHead());
    lib(join(dir, 'empty'), 'libbpf.so.1.0.0', Buffer.alloc(0));
    mkdirSync(join(dir, 'none'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const noCache = () => join(dir, 'no-such-cache');

  it('LD_LIBRARY_PATH first, in its order', () => {
    const r = findLibbpf({ env: { LD_LIBRARY_PATH: `${join(dir, 'none')}:${join(dir, 'ld')}` }, cacheFile: noCache(), defaultDirs: [join(dir, 'default')] });
    expect(r).toEqual({ found: true, path: join(dir, 'ld/libbpf.so.1'), realPath: join(realpathSync(dir), 'ld/libbpf.so.1.4.7'), version: '1.4.7', via: 'LD_LIBRARY_PATH' });
    expect(describeLibbpf(r)).toBe(`libbpf: 1.4.7 (${join(realpathSync(dir), 'ld/libbpf.so.1.4.7')}, from LD_LIBRARY_PATH)`);
  });

  it('passes over a file that is not an ELF library, as the loader does', () => {
    const r = findLibbpf({ env: { LD_LIBRARY_PATH: join(dir, 'empty') }, cacheFile: noCache(), defaultDirs: [join(dir, 'default')] });
    expect(r.found && r.version).toBe('1.1.2');
  });

  it('not found: says where it looked and what it passed over', () => {
    const r = findLibbpf({ env: {}, cacheFile: noCache(), defaultDirs: [join(dir, 'none'), join(dir, 'empty')] });
    expect(r.found).toBe(false);
    expect(describeLibbpf(r)).toBe(
      `libbpf: not found (searched ${noCache()} (missing), ${join(dir, 'none')}, ${join(dir, 'empty')}; ` +
        `passed over ${join(realpathSync(dir), 'empty/libbpf.so.1.0.0')}: not an ELF file): ` +
        'install the system libbpf (Debian/Ubuntu: apt-get install libbpf1; Fedora/RHEL: dnf install libbpf)',
    );
  });

  it('on this machine: the file ldconfig lists, by its real name', () => {
    const r = findLibbpf({ env: {} });
    const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/sbin:/usr/sbin` } });
    const listed = /^\tlibbpf\.so\.1 \(libc6,x86-64\) => (.+)$/m.exec(ldconfig.stdout);
    expect(listed, 'libbpf1 is not installed: run npm run setup').not.toBeNull();
    expect(r).toMatchObject({ found: true, path: listed![1], realPath: realpathSync(listed![1]), via: '/etc/ld.so.cache' });
    expect(r.found && r.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
