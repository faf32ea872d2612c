// run's check that CMD can start at all, before anything is attached.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandProblem } from '../../src/system/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'iwt-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('commandProblem', () => {
  const tool = join(dir, 'tool');
  writeFileSync(tool, '#!/bin/sh\n');
  chmodSync(tool, 0o755);
  const plain = join(dir, 'plain');
  writeFileSync(plain, 'data');
  chmodSync(plain, 0o644);
  mkdirSync(join(dir, 'sub'));

  it('accepts an executable path and a name found in PATH', () => {
    expect(commandProblem(tool)).toBeUndefined();
    expect(commandProblem('tool', `/nonexistent:${dir}`)).toBeUndefined();
  });
  it('names what is wrong, execvp-style', () => {
    expect(commandProblem('/nonexistent/cmd')).toBe("'/nonexistent/cmd' does not exist");
    expect(commandProblem('nosuchcmd', dir)).toBe("'nosuchcmd' is not found in PATH");
    expect(commandProblem(plain)).toBe(`'${plain}' is not executable`);
    expect(commandProblem(join(dir, 'sub'))).toBe(`'${join(dir, 'sub')}' is a directory`);
    expect(commandProblem('plain', dir)).toBe("'plain' is not found in PATH");
    expect(commandProblem('')).toBe('the command is empty');
  });
});
