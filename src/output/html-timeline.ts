// The HTML report's timeline, run in the browser: it draws the interruptions
// of each watched CPU as SVG for the current view and zooms and pans it.
// html.ts inlines timelineMain's source in the page, so the function uses
// nothing from outside itself (no imports, no closures) and only the data
// the page carries (TimelineData, in <script id="iw-data">). The view is kept
// in the address's hash (#t=FROM,TO, nanoseconds from the start) so a zoomed
// view can be reloaded and shared; #judged opens on the judged window.

/** What the page hands the timeline (times in ns from `t0`, on the recording's clock). */
export interface TimelineData {
  /** recording clock (ts_ns) of time 0 */
  t0: number;
  /** length of the timeline in ns */
  span: number;
  cpus: number[];
  classes: string[];
  colors: string[];
  /** judged window (ns from t0); to absent: until the end */
  window: { from: number; to?: number };
  /** per interruption, sorted by start: [start, duration, cpu index, class index, label index, violation 0/1] */
  ev: Array<[number, number, number, number, number, number]>;
  labels: string[];
}

/* c8 ignore start: runs in the browser (test/integration/html-report.test.ts) */
export function timelineMain(): void {
  const dataEl = document.getElementById('iw-data');
  const box = document.getElementById('tl');
  const detail = document.getElementById('tl-detail');
  if (!dataEl || !box || !detail) return;
  const data = JSON.parse(dataEl.textContent || '{}') as TimelineData;
  const full: [number, number] = [0, Math.max(data.span, 1000)];
  const MIN_SPAN = 200; // ns
  let view: [number, number] = [full[0], full[1]];

  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  // "850ns", "3.1us", "1.25ms", "2s": as formatDuration in the reports
  const dur = (ns: number): string => {
    if (ns < 1000) return `${Math.round(ns)}ns`;
    const units: Array<[string, number]> = [
      ['us', 1e3],
      ['ms', 1e6],
      ['s', 1e9],
    ];
    for (let i = 0; i < units.length; i++) {
      const v = ns / units[i][1];
      const t = v >= 1000 ? String(Math.round(v)) : v.toPrecision(3).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
      if (Number(t) < 1000 || i === units.length - 1) return t + units[i][0];
    }
    return `${ns}ns`;
  };

  // one list of event indices per CPU row, and each row's longest interruption (for the search below)
  const rows: number[][] = data.cpus.map(() => []);
  const longest: number[] = data.cpus.map(() => 0);
  data.ev.forEach((e, i) => {
    rows[e[2]].push(i);
    longest[e[2]] = Math.max(longest[e[2]], e[1]);
  });

  /** first index in `row` whose start is >= t */
  const lowerBound = (row: number[], t: number): number => {
    let lo = 0;
    let hi = row.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (data.ev[row[mid]][0] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  /** Tick step for a view, and the unit its labels use (chosen by the largest label, digits by the step). */
  const tick = (from: number, to: number): { step: number; unit: string; scale: number; decimals: number } => {
    const raw = (to - from) / 8;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) || pow * 10;
    const [unit, scale] = to >= 1e9 ? ['s', 1e9] : to >= 1e6 ? ['ms', 1e6] : to >= 1e3 ? ['us', 1e3] : ['ns', 1];
    const decimals = Math.max(0, Math.ceil(-Math.log10(step / (scale as number)) - 1e-9));
    return { step, unit: unit as string, scale: scale as number, decimals };
  };

  let groups: Array<{ first: number; n: number; row: number; idx: number[] }> = [];

  function render(): void {
    const width = Math.max(640, Math.floor(box!.clientWidth || 1000));
    const left = 76;
    const right = 12;
    const top = 26;
    const rowH = data.cpus.length <= 2 ? 44 : 30;
    const gap = 12;
    const plotW = width - left - right;
    const [v0, v1] = view;
    const span = v1 - v0;
    const x = (t: number): number => left + ((t - v0) / span) * plotW;
    const height = top + data.cpus.length * (rowH + gap) + 22;
    const bottom = top + data.cpus.length * (rowH + gap) - gap;
    const parts: string[] = [];
    parts.push(`<svg id="tl-svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-from="${Math.round(v0)}" data-to="${Math.round(v1)}" role="img" aria-label="interruptions per watched CPU over time">`);
    parts.push(`<defs><clipPath id="tl-clip"><rect x="${left}" y="0" width="${plotW}" height="${height}"/></clipPath></defs>`);
    // the judged window, and what lies outside it
    const wFrom = data.window.from;
    const wTo = data.window.to ?? full[1];
    const band = (a: number, b: number, cls: string, label: string): void => {
      const xa = Math.max(left, x(a));
      const xb = Math.min(left + plotW, x(b));
      if (xb <= xa) return;
      parts.push(`<rect class="band ${cls}" x="${xa.toFixed(1)}" y="${top - 14}" width="${(xb - xa).toFixed(1)}" height="${bottom - top + 16}"><title>${esc(label)}</title></rect>`);
      if (xb - xa > 70) parts.push(`<text class="band-label" x="${(xa + 4).toFixed(1)}" y="${top - 4}">${esc(label)}</text>`);
    };
    band(full[0], wFrom, 'outside', 'warm-up (not judged)');
    band(wFrom, wTo, 'judged', 'judged window');
    band(wTo, full[1], 'outside', 'after the judged window (not judged)');
    groups = [];
    let drawnRects = 0;
    data.cpus.forEach((cpu, ri) => {
      const y = top + ri * (rowH + gap);
      const row = rows[ri];
      // Marks wider than a few pixels are drawn one by one, below; narrow ones that touch are merged
      // into one mark (coloured by the longest) and drawn over them, so a long preemption does not hide
      // the IPIs inside it. Violations (what was judged) are full height, the rest lower and paler.
      const layers: string[][] = [[], [], [], []];
      let drawn = 0;
      type Acc = { x0: number; x1: number; cls: number; maxd: number; idx: number[] };
      const acc: Array<Acc | undefined> = [undefined, undefined];
      const draw = (cur: Acc, v: number, layer: number): void => {
        const g = { first: cur.idx[0], n: cur.idx.length, row: ri, idx: cur.idx };
        groups.push(g);
        const e = data.ev[cur.idx[0]];
        const longestE = data.ev[cur.idx.reduce((a, b) => (data.ev[b][1] > data.ev[a][1] ? b : a), cur.idx[0])];
        const what = v ? (g.n === 1 ? 'violation' : 'violations') : g.n === 1 ? 'not a violation' : 'not violations';
        const title =
          g.n === 1
            ? `${data.labels[e[4]]}: ${dur(e[1])} at +${dur(e[0])} (${what})`
            : `${g.n} interruptions (${what}) from +${dur(e[0])}; longest: ${data.labels[longestE[4]]}: ${dur(longestE[1])}`;
        const w = Math.max(1, cur.x1 - cur.x0);
        const h = v ? rowH : Math.round(rowH * 0.6);
        layers[layer].push(
          `<rect class="ev${v ? ' viol' : ''}" data-g="${groups.length - 1}" data-n="${g.n}" x="${cur.x0.toFixed(1)}" y="${y + rowH - h}" width="${w.toFixed(1)}" height="${h}" fill="${data.colors[cur.cls]}"><title>${esc(title)}</title></rect>`,
        );
        if (v) layers[layer].push(`<rect class="viol-mark" x="${cur.x0.toFixed(1)}" y="${y - 4}" width="${w.toFixed(1)}" height="3"/>`);
        drawnRects++;
      };
      const flush = (v: number): void => {
        const cur = acc[v];
        if (cur) draw(cur, v, 2 + v);
        acc[v] = undefined;
      };
      for (let k = lowerBound(row, v0 - longest[ri]); k < row.length; k++) {
        const i = row[k];
        const e = data.ev[i];
        if (e[0] > v1) break;
        if (e[0] + e[1] < v0) continue;
        drawn++;
        const v = e[5] ? 1 : 0;
        const x0 = Math.max(left, x(e[0]));
        const x1 = Math.min(left + plotW, Math.max(x(e[0] + e[1]), x0 + 1));
        if (x1 - x0 > 4) {
          draw({ x0, x1, cls: e[3], maxd: e[1], idx: [i] }, v, v);
          continue;
        }
        const cur = acc[v];
        if (cur && x0 <= cur.x1 + 0.5) {
          cur.x1 = Math.max(cur.x1, x1);
          if (e[1] > cur.maxd) {
            cur.maxd = e[1];
            cur.cls = e[3];
          }
          cur.idx.push(i);
        } else {
          flush(v);
          acc[v] = { x0, x1, cls: e[3], maxd: e[1], idx: [i] };
        }
      }
      flush(0);
      flush(1);
      const parts2 = layers.flat();
      parts.push(`<g class="row" data-cpu="${cpu}" data-drawn="${drawn}">`);
      parts.push(`<text class="row-label" x="8" y="${y + rowH / 2 + 4}">CPU ${cpu}</text>`);
      parts.push(`<rect class="row-bg" x="${left}" y="${y}" width="${plotW}" height="${rowH}"/>`);
      parts.push(`<g clip-path="url(#tl-clip)">${parts2.join('')}</g></g>`);
    });
    // time axis: offsets from the start of the recording
    const t = tick(v0, v1);
    const axisY = bottom + 4;
    parts.push(`<g class="axis"><line x1="${left}" y1="${axisY}" x2="${left + plotW}" y2="${axisY}"/>`);
    for (let v = Math.ceil(v0 / t.step) * t.step; v <= v1; v += t.step) {
      const xv = x(v);
      parts.push(`<line x1="${xv.toFixed(1)}" y1="${axisY}" x2="${xv.toFixed(1)}" y2="${axisY + 4}"/>`);
      parts.push(`<text class="tick" x="${xv.toFixed(1)}" y="${axisY + 15}">+${(v / t.scale).toFixed(t.decimals)}${t.unit}</text>`);
    }
    parts.push('</g></svg>');
    box!.innerHTML = parts.join('');
    box!.dataset.rects = String(drawnRects);
    const shown = document.getElementById('tl-view');
    if (shown) shown.textContent = `showing +${dur(v0)} to +${dur(v1)} (${dur(span)})`;
    try {
      const hash = `#t=${Math.round(v0)},${Math.round(v1)}`;
      if (v0 !== full[0] || v1 !== full[1]) history.replaceState(null, '', hash);
      else if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    } catch {
      /* a page opened where the address cannot change: the view still works */
    }
  }

  function setView(a: number, b: number): void {
    let span = Math.min(Math.max(b - a, MIN_SPAN), full[1] - full[0]);
    let from = Math.min(Math.max(a, full[0]), full[1] - span);
    if (!Number.isFinite(from)) from = full[0];
    if (!Number.isFinite(span)) span = full[1] - full[0];
    view = [from, from + span];
    render();
  }

  function zoom(factor: number, at?: number): void {
    const [v0, v1] = view;
    const c = at ?? (v0 + v1) / 2;
    setView(c - (c - v0) * factor, c + (v1 - c) * factor);
  }

  const plotTime = (clientX: number): number => {
    const r = box!.getBoundingClientRect();
    const plotW = Math.max(640, Math.floor(box!.clientWidth || 1000)) - 76 - 12;
    return view[0] + ((clientX - r.left - 76) / plotW) * (view[1] - view[0]);
  };

  box.addEventListener(
    'wheel',
    (ev) => {
      ev.preventDefault();
      zoom(Math.exp(ev.deltaY * 0.002), plotTime(ev.clientX));
    },
    { passive: false },
  );
  let drag: { x: number; view: [number, number]; moved: boolean } | undefined;
  box.addEventListener('mousedown', (ev) => {
    drag = { x: ev.clientX, view: [view[0], view[1]], moved: false };
  });
  window.addEventListener('mousemove', (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    if (Math.abs(dx) > 2) drag.moved = true;
    const plotW = Math.max(640, Math.floor(box!.clientWidth || 1000)) - 88;
    const dt = (-dx / plotW) * (drag.view[1] - drag.view[0]);
    if (drag.moved) setView(drag.view[0] + dt, drag.view[1] + dt);
  });
  window.addEventListener('mouseup', () => {
    setTimeout(() => (drag = undefined), 0);
  });
  box.addEventListener('dblclick', (ev) => zoom(0.5, plotTime(ev.clientX)));
  box.addEventListener('click', (ev) => {
    if (drag?.moved) return;
    const target = ev.target as Element;
    const g = target?.getAttribute?.('data-g');
    if (g === null || g === undefined) return;
    const group = groups[Number(g)];
    const lines = group.idx.slice(0, 50).map((i) => {
      const e = data.ev[i];
      return `<li>+${esc(dur(e[0]))}: ${esc(data.labels[e[4]])}, ${esc(dur(e[1]))}${e[5] ? ' <b>(violation)</b>' : ''}</li>`;
    });
    const more = group.n > 50 ? `<li>... and ${group.n - 50} more: zoom in</li>` : '';
    detail!.innerHTML = `<p>CPU ${data.cpus[group.row]}: ${group.n === 1 ? '1 interruption' : `${group.n} interruptions`}</p><ul>${lines.join('')}${more}</ul>`;
  });
  box.addEventListener('keydown', (ev) => {
    const step = (view[1] - view[0]) / 4;
    if (ev.key === '+' || ev.key === '=') zoom(0.5);
    else if (ev.key === '-') zoom(2);
    else if (ev.key === '0') setView(full[0], full[1]);
    else if (ev.key === 'ArrowLeft') setView(view[0] - step, view[1] - step);
    else if (ev.key === 'ArrowRight') setView(view[0] + step, view[1] + step);
    else return;
    ev.preventDefault();
  });
  document.querySelectorAll<HTMLButtonElement>('button[data-zoom]').forEach((b) => {
    b.addEventListener('click', () => {
      const z = b.dataset.zoom;
      if (z === 'in') zoom(0.5);
      else if (z === 'out') zoom(2);
      else if (z === 'judged') setView(data.window.from, data.window.to ?? full[1]);
      else setView(full[0], full[1]);
    });
  });
  window.addEventListener('resize', render);

  const m = /^#t=(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec(location.hash);
  if (m && Number(m[2]) > Number(m[1])) setView(Number(m[1]), Number(m[2]));
  else if (location.hash === '#judged') setView(data.window.from, data.window.to ?? full[1]);
  else render();
}
/* c8 ignore stop */
