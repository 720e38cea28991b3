// A small option parser for the `sealpost` subcommands: `--name value`, `--name=value`,
// repeatable options and flags; anything unknown is an error naming it.
export class UsageError extends Error {}

export interface OptionSpec { readonly flags?: readonly string[]; readonly values?: readonly string[]; readonly repeat?: readonly string[] }

export interface Parsed { flags: Set<string>; values: Map<string, string>; repeat: Map<string, string[]>; rest: string[] }

export function parseOptions(argv: readonly string[], spec: OptionSpec): Parsed {
  const out: Parsed = { flags: new Set(), values: new Map(), repeat: new Map(), rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { out.rest.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (spec.flags?.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out.flags.add(name);
      continue;
    }
    const takes = spec.values?.includes(name) || spec.repeat?.includes(name);
    if (!takes) throw new UsageError(`unknown option --${name}`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (spec.repeat?.includes(name)) out.repeat.set(name, [...(out.repeat.get(name) ?? []), value]);
    else out.values.set(name, value);
  }
  return out;
}

/** A whole number from an option, or a usage error naming it. */
export function intOption(p: Parsed, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = p.values.get(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return Number(v);
}

/** A duration like 90, 90s, 15m, 12h or 1d, in seconds; null when it is not one. */
export function parseDuration(v: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(v);
  return m === null ? null : Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

/** A duration option (parseDuration), or a usage error naming it. */
export function durationOption(p: Parsed, name: string): number | undefined {
  const v = p.values.get(name);
  if (v === undefined) return undefined;
  const seconds = parseDuration(v);
  if (seconds === null) throw new UsageError(`--${name} must be a duration such as 90s, 15m, 12h or 1d`);
  return seconds;
}
