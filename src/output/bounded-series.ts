// A bounded set of counter series over many keys (top causes, violating
// tasks): at most `limit` keys get a series of their own, the costliest of
// late (cost decays with a half-life, so a cause that stopped makes room for
// one that started), and every other key is summed into its bucket's "other"
// series. A long-running exporter must keep each series a counter (never
// going down, or Prometheus sees a reset and rate() a spike) while the
// costliest keys change, so each series counts only what its keys did while
// they belonged to it: a key that moves into "other" leaves what its series
// showed with that series (which ends, and resumes there if the key comes
// back), a key that gets a series takes nothing out of "other". So between
// any two updates, the series of a bucket grow by exactly what its keys did.
// (Their sum equals the keys' totals until a key first loses its series: use
// rate() and increase() on them, as on any counter.)

export interface Tally {
  count: number;
  stolen_ns: number;
}

export interface KeyTotal {
  /** the key's series when it has one (its labels, serialized by the caller) */
  key: string;
  /** the "other" series the key counts in when it has none (e.g. its CPU and class) */
  bucket: string;
  /** everything the key counted since the start (monotonic; a smaller value is taken as the previous one) */
  total: Tally;
}

export interface SeriesValue {
  /** the key, or the bucket for an "other" series */
  id: string;
  other: boolean;
  value: Tally;
}

interface KeyState {
  bucket: string;
  own: boolean;
  /** the key's total when it last changed series */
  base: Tally;
  /** the key's total as last seen */
  last: Tally;
  /** its total when the series were last shown: what some series has shown of it */
  shown: Tally;
  /** what its own series had counted when it last lost it (it resumes from there) */
  kept: Tally;
  /** its cost of late: what it counted, decayed by the half-life */
  score: Tally;
}

const ZERO: Tally = { count: 0, stolen_ns: 0 };
const plus = (a: Tally, b: Tally): Tally => ({ count: a.count + b.count, stolen_ns: a.stolen_ns + b.stolen_ns });
const minus = (a: Tally, b: Tally): Tally => ({ count: a.count - b.count, stolen_ns: a.stolen_ns - b.stolen_ns });

/** Costlier: more stolen time; between keys that stole none, more interruptions. */
function costlier(a: Tally, b: Tally, factor = 1): boolean {
  if (a.stolen_ns > 0 || b.stolen_ns > 0) return a.stolen_ns > b.stolen_ns * factor;
  return a.count > b.count * factor;
}

/** Half-life of a key's cost by default: what ranks causes is what they cost in the last quarter hour or so. */
export const DEFAULT_HALF_LIFE_MS = 15 * 60_000;

export interface BoundedSeriesOptions {
  /** a key without a series takes the place of the cheapest one only when it costs this many times more (no flapping) */
  swapFactor?: number;
  halfLifeMs?: number;
}

export class BoundedSeries {
  private readonly keys = new Map<string, KeyState>();
  private readonly others = new Map<string, Tally>();
  private readonly swapFactor: number;
  private readonly halfLifeMs: number;
  private lastUpdateMs: number | undefined;

  /** @param limit keys with a series of their own, at most */
  constructor(
    readonly limit: number,
    opts: BoundedSeriesOptions = {},
  ) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit ${limit}: a whole number >= 0`);
    this.swapFactor = opts.swapFactor ?? 1.5;
    this.halfLifeMs = opts.halfLifeMs ?? DEFAULT_HALF_LIFE_MS;
  }

  /** Takes the keys' totals at `nowMs` and picks who has a series: the costliest of late, within the limit. */
  update(totals: Iterable<KeyTotal>, nowMs: number = Date.now()): void {
    const decay = this.lastUpdateMs === undefined ? 1 : 2 ** (-Math.max(0, nowMs - this.lastUpdateMs) / this.halfLifeMs);
    this.lastUpdateMs = nowMs;
    for (const s of this.keys.values()) s.score = { count: s.score.count * decay, stolen_ns: s.score.stolen_ns * decay };
    for (const t of totals) {
      let s = this.keys.get(t.key);
      if (!s) {
        s = { bucket: t.bucket, own: false, base: ZERO, last: ZERO, shown: ZERO, kept: ZERO, score: ZERO };
        this.keys.set(t.key, s);
        if (!this.others.has(t.bucket)) this.others.set(t.bucket, ZERO);
      }
      // a total never goes down: a key judged again differently must not make a counter fall
      const last = { count: Math.max(s.last.count, t.total.count), stolen_ns: Math.max(s.last.stolen_ns, t.total.stolen_ns) };
      s.score = plus(s.score, minus(last, s.last));
      s.last = last;
    }
    this.choose();
  }

  private choose(): void {
    const own: [string, KeyState][] = [];
    const rest: [string, KeyState][] = [];
    for (const e of this.keys) (e[1].own ? own : rest).push(e);
    const byCost = (a: [string, KeyState], b: [string, KeyState]) => (costlier(a[1].score, b[1].score) ? -1 : costlier(b[1].score, a[1].score) ? 1 : a[0] < b[0] ? -1 : 1);
    rest.sort(byCost);
    let i = 0;
    while (own.length < this.limit && i < rest.length) {
      this.give(rest[i][1]);
      own.push(rest[i++]);
    }
    if (i >= rest.length || own.length === 0) return;
    own.sort(byCost);
    // the costliest without a series against the cheapest with one, while one clearly beats the other
    while (i < rest.length && own.length) {
      const cheapest = own[own.length - 1];
      if (!costlier(rest[i][1].score, cheapest[1].score, this.swapFactor)) break;
      this.take(cheapest[1]);
      own.pop();
      this.give(rest[i][1]);
      own.push(rest[i++]);
      own.sort(byCost);
    }
  }

  /**
   * The key gets its own series: what "other" has shown of it stays there;
   * what nobody has shown yet (all of a new key) goes to its own series.
   */
  private give(s: KeyState): void {
    this.others.set(s.bucket, plus(this.others.get(s.bucket)!, minus(s.shown, s.base)));
    s.base = s.shown;
    s.own = true;
  }

  /** The key loses its series: what the series has shown stays with it (it resumes there if the key comes back). */
  private take(s: KeyState): void {
    s.kept = plus(s.kept, minus(s.shown, s.base));
    s.base = s.shown;
    s.own = false;
  }

  /** The series now: the keys that have one, and every bucket's "other" that ever counted anything. */
  series(): SeriesValue[] {
    const out: SeriesValue[] = [];
    const other = new Map(this.others);
    for (const [key, s] of this.keys) {
      s.shown = s.last;
      const growth = minus(s.last, s.base);
      if (s.own) out.push({ id: key, other: false, value: plus(s.kept, growth) });
      else other.set(s.bucket, plus(other.get(s.bucket)!, growth));
    }
    for (const [bucket, v] of other) if (v.count > 0 || v.stolen_ns > 0) out.push({ id: bucket, other: true, value: v });
    return out;
  }

  /** Keys known (with or without a series of their own). */
  get size(): number {
    return this.keys.size;
  }
}
