// Shell-style globs for comm, kind, func and cgroup matchers: * ? [abc] [!a-z].
// Hand-written so policies need no extra dependency; anchored, case-sensitive.

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  const hit = cache.get(glob);
  if (hit) return hit;
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = close;
    } else re += c.replace(/[.+^${}()|\\\/]/g, '\\$&');
  }
  const out = new RegExp(re + '$');
  cache.set(glob, out);
  return out;
}

export function globMatch(glob: string, text: string): boolean {
  return globToRegExp(glob).test(text);
}

export function anyGlob(globs: readonly string[], text: string | undefined): boolean {
  if (text === undefined) return false;
  return globs.some((g) => globMatch(g, text));
}
