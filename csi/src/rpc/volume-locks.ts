/**
 * Operations in flight, one per volume. A second operation on a volume that is busy is refused
 * at once (the CSI spec's ABORTED), never queued: the sidecar that sent it retries later, and a
 * retry of a slow call must not pile up behind the call it repeats.
 */
export class VolumeLocks {
  private readonly held = new Map<string, string>();

  /** The operation holding `key`, if any. */
  holder(key: string): string | undefined {
    return this.held.get(key);
  }

  /** Takes `key` for `operation`; false when another operation holds it. */
  tryAcquire(key: string, operation: string): boolean {
    if (this.held.has(key)) return false;
    this.held.set(key, operation);
    return true;
  }

  release(key: string): void {
    this.held.delete(key);
  }
}
