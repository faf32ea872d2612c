// `--isolate quiesce=vmstat[,inherit=conf|active]`: parsing, and the plan to
// start CMD under the chisol helper. The plan refuses unless detectPrIsol()
// positively found the ABI: on a stock kernel options 65/67 are PR_SET_MDWE
// and PR_SET_MEMORY_MERGE and would silently do something else.
import { chisolPath } from '../paths.js';
import { ISOL_F_QUIESCE, ISOL_F_QUIESCE_VMSTATS, ISOL_INHERIT_ACTIVE, ISOL_INHERIT_CONF, hex } from './abi.js';
import type { PrIsolDetection } from './detect.js';

export interface IsolateSpec {
  features: bigint;
  quiesce_mask: bigint;
  /** ISOL_INHERIT_* (active implies conf: the ABI requires CONF with ACTIVE). */
  inherit_mask: number;
}

export class IsolateSpecError extends Error {}

const SYNTAX = 'quiesce=vmstat[,inherit=conf|active]';
const QUIESCE_NAMES: Record<string, bigint> = { vmstat: ISOL_F_QUIESCE_VMSTATS, vmstats: ISOL_F_QUIESCE_VMSTATS };

/** Parses the --isolate value; errors say what, where (column) and what to write instead. */
export function parseIsolateSpec(text: string, flag = '--isolate'): IsolateSpec {
  const spec: IsolateSpec = { features: 0n, quiesce_mask: 0n, inherit_mask: 0 };
  const fail = (col: number, what: string): never => {
    throw new IsolateSpecError(`${flag} '${text}': ${what} at column ${col}; expected ${SYNTAX}`);
  };
  if (text.trim() === '') fail(1, 'empty value');
  const seen = new Set<string>();
  let col = 1;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) fail(col, `'${part}' is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const vcol = col + eq + 1;
    if (seen.has(key)) fail(col, `'${key}' given twice`);
    seen.add(key);
    if (key === 'quiesce') {
      if (value === '') fail(vcol, 'quiesce needs a value');
      for (const name of value.split('+')) {
        const bit = QUIESCE_NAMES[name];
        if (bit === undefined) fail(vcol + value.indexOf(name), `unknown quiesce bit '${name}' (known: vmstat)`);
        spec.quiesce_mask |= bit;
      }
      spec.features |= ISOL_F_QUIESCE;
    } else if (key === 'inherit') {
      if (value === 'conf') spec.inherit_mask = ISOL_INHERIT_CONF;
      else if (value === 'active') spec.inherit_mask = ISOL_INHERIT_CONF | ISOL_INHERIT_ACTIVE;
      else fail(vcol, `inherit must be 'conf' or 'active', not '${value}'`);
    } else {
      fail(col, `unknown key '${key}' (known: quiesce, inherit)`);
    }
    col += part.length + 1;
  }
  if (!seen.has('quiesce')) fail(1, 'quiesce=... is required (it is the only feature the ABI has)');
  return spec;
}

export type IsolatePlan =
  | { ok: true; argv: string[] }
  | { ok: false; exitCode: 3; error: string };


/** Builds the chisol argv that configures, activates and execs CMD, or says why it must not. */
export function planIsolate(
  spec: IsolateSpec,
  detection: Pick<PrIsolDetection, 'supported' | 'via'>,
  cmd: readonly string[],
  helper = chisolPath(),
): IsolatePlan {
  if (!detection.supported) {
    return {
      ok: false,
      exitCode: 3,
      error:
        '--isolate: this kernel does not have the PR_ISOL task-isolation ABI (no task_struct isol field in BTF, no prctl_task_isol_* in /proc/kallsyms). ' +
        'Its prctl numbers 63..67 belong to other options here: 65 is PR_SET_MDWE (irreversible memory-deny-write-execute) and 67 is PR_SET_MEMORY_MERGE (KSM for the whole process), so isolwatch will not issue them. ' +
        'Run without --isolate (the command is then judged as declared isolated), or boot a kernel carrying the task-isolation patches.',
    };
  }
  if (cmd.length === 0) return { ok: false, exitCode: 3, error: '--isolate: no command to start (give it after --)' };
  const argv = [helper, '--abi-confirmed', `--via=${detection.via}`, '--quiesce', hex(spec.quiesce_mask)];
  if (spec.inherit_mask) argv.push('--inherit', spec.inherit_mask & ISOL_INHERIT_ACTIVE ? 'active' : 'conf');
  argv.push('--', ...cmd);
  return { ok: true, argv };
}
