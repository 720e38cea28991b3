// The contract between the runner and each suite.
import type { Progress } from './progress.js';
import type { Table, Target } from './report.js';

export interface SuiteContext {
  readonly quick: boolean;
  /** Measurement time this suite may spend, in ms (setup such as starting processes is extra but bounded). */
  readonly budgetMs: number;
  readonly progress: Progress;
  /** The repository root (bench/ and dist/ are under it). */
  readonly root: string;
}

/** What a suite shows of its result: tables, targets and charts (pure: a JSON report can be re-rendered). */
export interface Rendered {
  readonly tables: readonly Table[];
  readonly targets: readonly Target[];
  /** SVG files to write next to the report: file name → contents. */
  readonly charts?: Readonly<Record<string, string>>;
  /** Prose for the Markdown report (what the numbers mean). */
  readonly notes?: readonly string[];
}

export interface SuiteOutput<R = unknown> extends Rendered {
  /** Goes to the JSON report as is: numbers must be finite (n/a is an absent key, never NaN). */
  readonly result: R;
}

export interface Suite {
  readonly id: string;
  readonly title: string;
  /** Measurement budget in ms, full and --quick. */
  readonly budget: { readonly full: number; readonly quick: number };
  /** Measures; the result goes to the JSON report as is. */
  measure(ctx: SuiteContext): Promise<unknown>;
  /** Tables, targets and charts from a result (also from a saved report: `--render`). */
  render(result: unknown): Rendered;
}
