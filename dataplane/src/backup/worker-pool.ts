/**
 * Runs `fn` over `items`, `workers` at a time, in order of the items; the first failure (or an
 * abort) stops the others at their next item, waits for the ones in flight, and is thrown.
 */
export async function runPool<T>(
  items: readonly T[],
  workers: number,
  signal: AbortSignal | undefined,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      if (signal?.aborted) {
        failure ??= signal.reason;
        return;
      }
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, worker));
  if (failure !== null) throw failure;
}
