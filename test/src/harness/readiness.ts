import type { ManagedProcess } from './managed-process.js';
import { waitFor } from './wait.js';

export class ExitedEarlyError extends Error {
  readonly code = 'EXITED_EARLY';
  constructor(
    readonly component: string,
    readonly logFile: string,
  ) {
    super(`${component} exited before it was ready (log: ${logFile})`);
  }
}

/** Waits for `probe` to pass, failing at once when the process exits first. */
export async function waitForReady(
  what: string,
  proc: ManagedProcess,
  probe: () => Promise<unknown>,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    `${what} to be ready (log: ${proc.logFile})`,
    async () => {
      if (!proc.running) throw new ExitedEarlyError(what, proc.logFile);
      await probe();
      return true;
    },
    { timeoutMs, maxIntervalMs: 250, isFatal: (err) => err instanceof ExitedEarlyError },
  );
}
