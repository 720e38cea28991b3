// Tables for the terminal and for Markdown, and number formatting shared by every suite.

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly notes?: readonly string[];
}

export interface Target {
  readonly name: string;
  /** The goal in words, e.g. "≥ 1.8×". */
  readonly goal: string;
  readonly value: number;
  readonly unit: string;
  readonly met: boolean;
}

/** 3 significant digits, thousands separated: 12,300 / 45.6 / 0.789. */
export function fmt(n: number | undefined, digits = 3): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 10 ** digits) return Math.round(n).toLocaleString('en-US');
  const d = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}
export const fmtRatio = (r: number | undefined): string => (r === undefined || !Number.isFinite(r) ? '–' : `${fmt(r)}×`);
export const fmtMs = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? '–' : `${fmt(ms)} ms`);
export const fmtUs = (us: number | undefined): string => (us === undefined || !Number.isFinite(us) ? '–' : `${fmt(us)} µs`);
export const fmtMiB = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? '–' : `${fmt(bytes / 2 ** 20)} MiB`);

const width = (s: string): number => [...s].length;
const padEnd = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - width(s)));
const padStart = (s: string, w: number): string => ' '.repeat(Math.max(0, w - width(s))) + s;
const numeric = (s: string): boolean => /^[-+]?[\d,.]+(\s?(×|%|ms|µs|MiB|KiB|B|\/s))?$|^–$/.test(s);

export function renderTerminal(t: Table): string {
  const cols = t.columns.length;
  const w = Array.from({ length: cols }, (_, c) => Math.max(width(t.columns[c] ?? ''), ...t.rows.map((r) => width(r[c] ?? ''))));
  const line = (cells: readonly string[], header = false): string =>
    cells.map((s, c) => (c > 0 && !header && numeric(s) ? padStart(s, w[c]!) : padEnd(s, w[c]!))).join('  ');
  const out = [t.title, line(t.columns, true), w.map((n) => '─'.repeat(n)).join('  '), ...t.rows.map((r) => line(r))];
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  return out.join('\n');
}

export function renderMarkdown(t: Table, level = '###'): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const align = t.columns.map((_, c) => (c > 0 && t.rows.every((r) => numeric(r[c] ?? '')) ? '---:' : '---'));
  const out = [
    `${level} ${t.title}`, '',
    `| ${t.columns.map(esc).join(' | ')} |`,
    `|${align.join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
  if (t.notes?.length) out.push('', ...t.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

export function targetsTable(targets: readonly Target[]): Table {
  return {
    title: 'Targets',
    columns: ['target', 'goal', 'measured', 'met'],
    rows: targets.map((t) => [t.name, t.goal, `${fmt(t.value)}${t.unit ? ` ${t.unit}` : ''}`, t.met ? 'yes' : 'NO']),
  };
}
