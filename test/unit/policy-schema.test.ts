// policies/policy.schema.json (for editors) and the hand-written validator must agree:
// same key sets and required keys at every level, same enums, and both accept the shipped policies
// and reject the malformed fixtures.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CLASSES } from '../../src/types.js';
import { loadPolicy, POLICY_KEYS, POLICY_REQUIRED, SIGNAL_NAMES, SIGNAL_MODES, SIGNAL_TARGETS, SENDER_CONTEXTS, BUDGET_PER, type KeySetId } from '../../src/policy/index.js';

type S = Record<string, any>;
const schema: S = JSON.parse(readFileSync('policies/policy.schema.json', 'utf8'));

function deref(s: S): S {
  while (s.$ref) {
    const m = /^#\/\$defs\/(.+)$/.exec(s.$ref);
    if (!m) throw new Error(`unsupported $ref ${s.$ref}`);
    s = { ...schema.$defs[m[1]], ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$ref')) };
  }
  return s;
}

/** The object-shaped schema at a schematic path such as "rules[].actions[].signal". */
function objectAt(path: string): S {
  let s = schema;
  const steps = path === '' ? [] : path.split('.').flatMap((p) => (p.endsWith('[]') ? [p.slice(0, -2), '[]'] : [p]));
  const toObject = (x: S): S => {
    x = deref(x);
    if (x.properties) return x;
    for (const alt of [...(x.oneOf ?? []), ...(x.anyOf ?? [])]) {
      const d = deref(alt);
      if (d.properties || d.items) return d;
    }
    return x;
  };
  for (const step of steps) {
    s = toObject(s);
    s = step === '[]' ? s.items : s.properties?.[step];
    if (!s) throw new Error(`schema has nothing at ${path} (step ${step})`);
  }
  return toObject(s);
}

/** A small JSON Schema subset validator (what policy.schema.json uses). */
function validate(s: S, v: unknown, at = '$'): string[] {
  s = deref(s);
  const errs: string[] = [];
  const typeOk = (t: string) =>
    t === 'null' ? v === null : t === 'integer' ? Number.isInteger(v) : t === 'array' ? Array.isArray(v) : t === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === t;
  if (s.type && ![s.type].flat().some(typeOk)) return [`${at}: expected ${s.type}`];
  if ('const' in s && v !== s.const) errs.push(`${at}: expected ${s.const}`);
  if (s.enum && !s.enum.includes(v)) errs.push(`${at}: not in enum`);
  if (typeof v === 'string') {
    if (s.minLength !== undefined && v.length < s.minLength) errs.push(`${at}: too short`);
    if (s.pattern && !new RegExp(s.pattern, 'u').test(v)) errs.push(`${at}: pattern`);
  }
  if (typeof v === 'number' && s.minimum !== undefined && v < s.minimum) errs.push(`${at}: below minimum`);
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) errs.push(`${at}: too few items`);
    if (s.items) v.forEach((x, i) => errs.push(...validate(s.items, x, `${at}[${i}]`)));
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (s.minProperties !== undefined && keys.length < s.minProperties) errs.push(`${at}: too few keys`);
    if (s.maxProperties !== undefined && keys.length > s.maxProperties) errs.push(`${at}: too many keys`);
    for (const r of s.required ?? []) if (!(r in o)) errs.push(`${at}: missing ${r}`);
    for (const k of keys) {
      if (s.properties?.[k]) errs.push(...validate(s.properties[k], o[k], `${at}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${at}.${k}: unknown key`);
    }
  }
  if (s.oneOf) {
    const ok = s.oneOf.filter((alt: S) => validate(alt, v, at).length === 0).length;
    if (ok !== 1) errs.push(`${at}: ${ok} of oneOf matched`);
  }
  if (s.anyOf && !s.anyOf.some((alt: S) => validate(alt, v, at).length === 0)) errs.push(`${at}: no anyOf matched`);
  return errs;
}

describe('policy.schema.json agrees with the validator', () => {
  it.each(Object.keys(POLICY_KEYS) as KeySetId[])('keys at "%s"', (id) => {
    const o = objectAt(id);
    expect(o.additionalProperties).toBe(false);
    expect(Object.keys(o.properties).sort()).toEqual([...POLICY_KEYS[id]].sort());
    expect([...(o.required ?? [])].sort()).toEqual([...(POLICY_REQUIRED[id] ?? [])].sort());
  });

  it('every schema object is covered by a key set', () => {
    const covered = new Set((Object.keys(POLICY_KEYS) as KeySetId[]).map((id) => objectAt(id)));
    const withProps = [schema, ...Object.values(schema.$defs as Record<string, S>)].filter((d) => d.properties);
    for (const d of withProps) expect(covered.has(d) || [...covered].some((c) => c.properties === d.properties)).toBe(true);
  });

  it('enums', () => {
    const enumOf = (x: S): unknown[] => {
      x = deref(x);
      return x.enum ?? (x.oneOf ? enumOf(x.oneOf[0]) : []);
    };
    expect(enumOf(objectAt('rules[].match').properties.class)).toEqual([...CLASSES]);
    expect(enumOf(objectAt('rules[].match.sender').properties.context)).toEqual([...SENDER_CONTEXTS]);
    expect(enumOf(objectAt('rules[].match').properties.isol)).toEqual(['active', 'declared', 'inactive', 'none', 'any']);
    expect(enumOf(objectAt('rules[].budget').properties.per)).toEqual([...BUDGET_PER]);
    expect(enumOf(objectAt('rules[].actions[].signal').properties.name)).toEqual([...SIGNAL_NAMES]);
    expect(enumOf(objectAt('rules[].actions[].signal').properties.target)).toEqual([...SIGNAL_TARGETS]);
    expect(enumOf(objectAt('rules[].actions[].signal').properties.mode)).toEqual([...SIGNAL_MODES]);
  });
});

describe('shipped policies', () => {
  const files = readdirSync('policies').filter((f) => f.endsWith('.yaml'));
  it('are the four documented ones', () => {
    expect(files.sort()).toEqual(['ci-zero.yaml', 'notify.yaml', 'observe.yaml', 'strict.yaml']);
  });
  it.each(files)('%s passes the validator and the JSON Schema', (f) => {
    expect(() => loadPolicy(`policies/${f}`)).not.toThrow();
    expect(validate(schema, parse(readFileSync(`policies/${f}`, 'utf8')))).toEqual([]);
  });
});

describe('malformed fixtures are rejected by the JSON Schema too', () => {
  it.each(['unknown-key', 'bad-class', 'bad-duration', 'bad-signal', 'many-errors'])('%s', (f) => {
    const doc = parse(readFileSync(`test/fixtures/policies/${f}.yaml`, 'utf8'));
    expect(validate(schema, doc).length).toBeGreaterThan(0);
    expect(() => loadPolicy(`test/fixtures/policies/${f}.yaml`)).toThrow();
  });
});
