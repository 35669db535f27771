import { open, stat } from 'node:fs/promises';
import type { ManagedProcess } from './managed-process.js';
import { ExitedEarlyError } from './readiness.js';
import { waitFor } from './wait.js';

/** The size of a log file now: a ready line is looked for only after it (logs are appended to). */
export async function logOffset(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await file.close();
  }
}

/**
 * The first JSON object line after `offset` whose keys include every one of `keys` and that is
 * not a log record (pino's lines carry `level` and `msg`). Our process entries print such a line
 * on stdout once they serve; stdout and stderr share the process's log file.
 */
export function findReadyLine<T extends object>(text: string, keys: readonly string[]): T | undefined {
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) continue;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    if ('level' in value && 'msg' in value) continue;
    if (keys.every((k) => k in value)) return value as T;
  }
  return undefined;
}

/** Waits for a process's ready line (see `findReadyLine`); fails at once if the process exits. */
export function waitForReadyLine<T extends object>(
  what: string,
  proc: ManagedProcess,
  keys: readonly string[],
  options: { offset?: number; timeoutMs?: number } = {},
): Promise<T> {
  return waitFor(
    `${what} to print its ready line (log: ${proc.logFile})`,
    async () => {
      const line = findReadyLine<T>(await readFrom(proc.logFile, options.offset ?? 0), keys);
      if (line) return line;
      if (!proc.running) throw new ExitedEarlyError(what, proc.logFile);
      return undefined;
    },
    {
      timeoutMs: options.timeoutMs ?? 60_000,
      maxIntervalMs: 200,
      isFatal: (err) => err instanceof ExitedEarlyError,
    },
  );
}
