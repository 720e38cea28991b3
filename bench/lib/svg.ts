// Hand-written SVG charts (no dependency): grouped bars and lines, self-contained files
// that render on GitHub and in browsers.

export interface Series {
  readonly name: string;
  readonly values: readonly (number | undefined)[];
  /** A CSS colour instead of the palette's next one. */
  readonly color?: string;
  /** Dashed line (line charts), e.g. for a reference such as "ideal". */
  readonly dashed?: boolean;
}
export interface ChartOptions {
  readonly title: string;
  readonly categories: readonly string[];
  readonly series: readonly Series[];
  readonly yLabel: string;
  readonly log?: boolean;
  /** Horizontal dashed lines, e.g. a target. */
  readonly guides?: readonly { readonly value: number; readonly label: string }[];
  readonly width?: number;
  readonly height?: number;
  /** Slanted category labels, for many or long ones. */
  readonly slantLabels?: boolean;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const colorOf = (s: Series, i: number): string => s.color ?? PALETTE[i % PALETTE.length]!;
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n: number): string => (Math.round(n * 10) / 10).toString();

function label(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${num(v / 1e6)}M`;
  if (a >= 1e3) return `${num(v / 1e3)}k`;
  if (a >= 10 || v === 0) return `${Math.round(v)}`;
  return `${Math.round(v * 100) / 100}`;
}

interface Frame {
  readonly svg: string[];
  readonly x0: number; readonly y0: number; readonly w: number; readonly h: number;
  readonly y: (v: number) => number;
}

function frame(o: ChartOptions): Frame {
  const W = o.width ?? 760, H = o.height ?? 400;
  const x0 = 70, y0 = 40, w = W - x0 - 20, h = H - y0 - (o.slantLabels ? 140 : 90);
  const vals = o.series.flatMap((s) => s.values).filter((v): v is number => v !== undefined && Number.isFinite(v) && (!o.log || v > 0));
  for (const g of o.guides ?? []) vals.push(g.value);
  let lo: number, hi: number;
  let ticks: number[];
  if (o.log) {
    lo = 10 ** Math.floor(Math.log10(Math.min(...vals, 1)));
    hi = 10 ** Math.ceil(Math.log10(Math.max(...vals, 10)));
    ticks = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  } else {
    lo = 0;
    const max = Math.max(...vals, 1e-9);
    const step = 10 ** Math.floor(Math.log10(max));
    const unit = max / step > 5 ? step : max / step > 2 ? step / 2 : step / 5;
    hi = Math.ceil((max * 1.05) / unit) * unit;
    ticks = [];
    for (let t = 0; t <= hi + unit / 2; t += unit) ticks.push(t);
  }
  const y = o.log
    ? (v: number): number => y0 + h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h
    : (v: number): number => y0 + h - ((v - lo) / (hi - lo)) * h;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
    `<text transform="translate(16 ${y0 + h / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  ];
  for (const t of ticks) {
    const yy = num(y(t));
    svg.push(`<line x1="${x0}" x2="${x0 + w}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    svg.push(`<text x="${x0 - 6}" y="${yy}" dy="4" text-anchor="end">${label(t)}</text>`);
  }
  svg.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + h}" stroke="#333"/>`);
  svg.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y0 + h}" y2="${y0 + h}" stroke="#333"/>`);
  return { svg, x0, y0, w, h, y };
}

function finish(f: Frame, o: ChartOptions): string {
  for (const g of o.guides ?? []) {
    const yy = num(f.y(g.value));
    f.svg.push(`<line x1="${f.x0}" x2="${f.x0 + f.w}" y1="${yy}" y2="${yy}" stroke="#c00" stroke-dasharray="6 4"/>`);
    f.svg.push(`<text x="${f.x0 + 6}" y="${yy}" dy="-4" fill="#c00">${esc(g.label)}</text>`);
  }
  // Legend under the plot.
  let lx = f.x0;
  const ly = f.y0 + f.h + (o.slantLabels ? 118 : 62);
  o.series.forEach((s, i) => {
    f.svg.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colorOf(s, i)}"/>`);
    f.svg.push(`<text x="${lx + 16}" y="${ly}">${esc(s.name)}</text>`);
    lx += 28 + s.name.length * 7;
  });
  f.svg.push('</svg>');
  return f.svg.join('\n') + '\n';
}

/** Grouped vertical bars: one group per category, one bar per series. */
export function barChart(o: ChartOptions): string {
  const f = frame(o);
  const groups = o.categories.length;
  const gw = f.w / Math.max(1, groups);
  const bw = Math.min(40, (gw * 0.8) / Math.max(1, o.series.length));
  o.categories.forEach((c, gi) => {
    const gx = f.x0 + gi * gw + (gw - bw * o.series.length) / 2;
    o.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === undefined || !Number.isFinite(v) || (o.log && v <= 0)) return;
      const top = f.y(v);
      f.svg.push(`<rect x="${num(gx + si * bw)}" y="${num(top)}" width="${num(bw - 2)}" height="${num(f.y0 + f.h - top)}" fill="${colorOf(s, si)}"><title>${esc(`${s.name} ${c}: ${label(v)}`)}</title></rect>`);
    });
    const cx = num(f.x0 + gi * gw + gw / 2);
    f.svg.push(o.slantLabels
      ? `<text transform="translate(${cx} ${f.y0 + f.h + 12}) rotate(-35)" text-anchor="end">${esc(c)}</text>`
      : `<text x="${cx}" y="${f.y0 + f.h + 16}" text-anchor="middle">${esc(c)}</text>`);
  });
  return finish(f, o);
}

/** Lines over ordered categories (e.g. worker counts), with a dot per point. */
export function lineChart(o: ChartOptions): string {
  const f = frame(o);
  const n = o.categories.length;
  const x = (i: number): number => f.x0 + (n <= 1 ? f.w / 2 : 30 + (i * (f.w - 60)) / (n - 1));
  o.categories.forEach((c, i) => f.svg.push(`<text x="${num(x(i))}" y="${f.y0 + f.h + 16}" text-anchor="middle">${esc(c)}</text>`));
  o.series.forEach((s, si) => {
    const color = colorOf(s, si);
    const pts = s.values.map((v, i) => (v === undefined || !Number.isFinite(v) ? null : [x(i), f.y(v)] as const)).filter((p) => p !== null);
    if (pts.length > 1) f.svg.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 4"' : ''} points="${pts.map(([a, b]) => `${num(a)},${num(b)}`).join(' ')}"/>`);
    s.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) return;
      f.svg.push(`<circle cx="${num(x(i))}" cy="${num(f.y(v))}" r="4" fill="${color}"><title>${esc(`${s.name} ${o.categories[i]}: ${label(v)}`)}</title></circle>`);
    });
  });
  return finish(f, o);
}
