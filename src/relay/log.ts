// Structured JSON-lines logs. Callers log events and aggregates only: never a network address,
// a mailbox id, a key or any content (DESIGN.md "What the relay may learn").
import { createWriteStream, type WriteStream } from 'node:fs';
import type { LogLevel } from './config.js';

export type LogEntry = Record<string, unknown>;
export type LogSink = (entry: LogEntry) => void;

export interface Logger {
  debug(event: string, fields?: LogEntry): void;
  info(event: string, fields?: LogEntry): void;
  warn(event: string, fields?: LogEntry): void;
  error(event: string, fields?: LogEntry): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(level: LogLevel, sink: LogSink): Logger {
  const min = RANK[level];
  const at = (lvl: LogLevel) => (event: string, fields?: LogEntry): void => {
    if (RANK[lvl] < min) return;
    try {
      sink({ ts: new Date().toISOString(), level: lvl, event, ...fields });
    } catch {
      // a broken log sink must not take the relay down
    }
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A sink writing one JSON object per line to a file (appending) or to standard error. */
export function streamSink(file: string | null): { sink: LogSink; close(): Promise<void> } {
  let stream: WriteStream | null = null;
  if (file !== null) {
    stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
    stream.on('error', () => { /* reported once by the caller's health, never thrown */ });
  }
  const out = stream;
  return {
    sink: (entry) => {
      const line = JSON.stringify(entry) + '\n';
      if (out) out.write(line);
      else process.stderr.write(line);
    },
    close: () => new Promise<void>((resolve) => (out ? out.end(resolve) : resolve())),
  };
}

/** Describes an unexpected error for a log line without its message (which may echo input). */
export function errorSummary(e: unknown): LogEntry {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const cause = (e as { cause?: unknown }).cause;
    const out: LogEntry = { error: e.name };
    if (typeof code === 'string' || typeof code === 'number') out['code'] = code;
    if (cause instanceof Error) {
      const causeCode = (cause as { code?: unknown }).code;
      out['cause'] = cause.name + (typeof causeCode === 'string' ? `:${causeCode}` : '');
    }
    // Stack frames name our functions, not data: useful to operators and free of ids.
    out['at'] = (e.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' | ');
    return out;
  }
  return { error: typeof e };
}
