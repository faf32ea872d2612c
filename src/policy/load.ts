// Reading policy files: YAML text -> syntax tree (with positions) -> strict
// schema -> Policy. Every failure is a PolicyError naming file:line:col.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { PolicyError, type PolicyIssue } from './errors.js';
import { validatePolicyDocument } from './schema.js';
import type { Policy } from './types.js';

export function parsePolicy(text: string, file: string): Policy {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  if (doc.errors.length) {
    const issues: PolicyIssue[] = doc.errors.map((e) => {
      const { line, col } = lc.linePos(e.pos[0]);
      const msg = e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
      return { file, line, col, path: '', message: `YAML syntax error: ${msg} (fix the YAML; check indentation, quotes and brackets)` };
    });
    throw new PolicyError(issues);
  }
  if (doc.contents === null) throw new PolicyError([{ file, line: 1, col: 1, path: '', message: 'the policy file is empty (it needs at least a rules: list; see policies/observe.yaml)' }]);
  const { policy, issues } = validatePolicyDocument(doc, file, lc);
  if (!policy) throw new PolicyError(issues);
  return policy;
}

export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new PolicyError([{ file: path, line: 1, col: 1, path: '', message: `cannot read the policy file (${code}); check the path given to --policy` }]);
  }
  return parsePolicy(text, path);
}
