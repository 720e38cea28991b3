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

export interface SuiteOutput<R = unknown> {
  /** Goes to the JSON report as is: numbers must be finite (n/a is an absent key, never NaN). */
  readonly result: R;
  readonly tables: readonly Table[];
  readonly targets: readonly Target[];
  /** SVG files to write next to the report: file name → contents. */
  readonly charts?: Readonly<Record<string, string>>;
  /** Prose for the Markdown report (what the numbers mean). */
  readonly notes?: readonly string[];
}

export interface Suite {
  readonly id: string;
  readonly title: string;
  /** Measurement budget in ms, full and --quick. */
  readonly budget: { readonly full: number; readonly quick: number };
  run(ctx: SuiteContext): Promise<SuiteOutput>;
}
