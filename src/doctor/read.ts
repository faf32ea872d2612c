// Every read of the audited system goes through a SysRoot, so a fixture tree
// can stand in for '/'. Evidence paths are the paths on the audited system
// ('/proc/cmdline'), not the fixture paths, so reports read the same either way.
import { closeSync, constants, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export class SysRoot {
  constructor(readonly root: string) {}

  /** The path as seen on the audited system. */
  shown(rel: string): string {
    return '/' + rel.replace(/^\/+/, '');
  }

  private real(rel: string): string {
    return join(this.root, rel.replace(/^\/+/, ''));
  }

  /** File contents, or undefined when missing or unreadable (the caller turns that into a finding). */
  text(rel: string): string | undefined {
    try {
      return readFileSync(this.real(rel), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** First line, trimmed. */
  line(rel: string): string | undefined {
    const t = this.text(rel);
    return t === undefined ? undefined : (t.split('\n')[0] ?? '').trim();
  }

  gunzip(rel: string): string | undefined {
    try {
      return gunzipSync(readFileSync(this.real(rel))).toString('utf8');
    } catch {
      return undefined;
    }
  }

  list(rel: string): string[] {
    try {
      return readdirSync(this.real(rel));
    } catch {
      return [];
    }
  }

  /**
   * The kernel log's messages (without their headers): /dev/kmsg read
   * without blocking on this machine, a plain file dev/kmsg in a fixture tree.
   * Empty when it cannot be read (not root, dmesg_restrict).
   */
  kernelLog(): string[] {
    const path = this.real('dev/kmsg');
    const records: string[] = [];
    if (this.root === '/') {
      let fd: number;
      try {
        fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch {
        return [];
      }
      // one read returns one record; EAGAIN at the end, EPIPE when the oldest was overwritten meanwhile
      const buf = Buffer.alloc(8192);
      try {
        for (let i = 0; i < 100_000; i++) {
          let n: number;
          try {
            n = readSync(fd, buf, 0, buf.length, null);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue;
            break;
          }
          if (n <= 0) break;
          records.push(buf.toString('utf8', 0, n));
        }
      } finally {
        closeSync(fd);
      }
    } else {
      const t = this.text('dev/kmsg');
      if (t !== undefined) records.push(...t.split('\n').filter(Boolean));
    }
    // "6,339,92590,-;kvm-guest: KVM setup pv remote TLB flush\n"
    return records.map((r) => r.slice(r.indexOf(';') + 1).split('\n')[0]);
  }
}
