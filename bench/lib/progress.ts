// Progress on the terminal (stderr, so that stdout stays the final table): one line per
// step, and on a TTY a status line that updates in place.

export interface Progress {
  /** A step that stays on screen. */
  step(message: string): void;
  /** A transient status (overwritten on a TTY, dropped otherwise). */
  status(message: string): void;
  /** A progress bar of `done` of `total` with a label. */
  bar(label: string, done: number, total: number): void;
  done(): void;
}

export function progress(prefix: string, stream: NodeJS.WriteStream = process.stderr, silent = false): Progress {
  const tty = stream.isTTY === true;
  let transient = false;
  const clear = (): void => {
    if (transient) { stream.write('\r\x1b[2K'); transient = false; }
  };
  const t0 = Date.now();
  const stamp = (): string => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
  return {
    step(message) {
      if (silent) return;
      clear();
      stream.write(`${stamp()} [${prefix}] ${message}\n`);
    },
    status(message) {
      if (silent || !tty) return;
      clear();
      const cols = stream.columns ?? 100;
      stream.write(`${stamp()} [${prefix}] ${message}`.slice(0, cols - 1));
      transient = true;
    },
    bar(label, done, total) {
      if (silent || !tty) return;
      const w = 24;
      const k = total > 0 ? Math.min(w, Math.round((done / total) * w)) : 0;
      this.status(`${label} [${'#'.repeat(k)}${'.'.repeat(w - k)}] ${done}/${total}`);
    },
    done() {
      clear();
    },
  };
}
