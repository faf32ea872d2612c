// Every read of the audited system goes through a SysRoot, so a fixture tree
// can stand in for '/'. Evidence paths are the paths on the audited system
// ('/proc/cmdline'), not the fixture paths, so reports read the same either way.
import { readFileSync, readdirSync } from 'node:fs';
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
}
