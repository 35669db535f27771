/**
 * Creates and deletes a reconcile made that the caches have not shown yet (client-go's
 * "expectations"): until they appear, a volume is not reconciled again, so a lagging cache
 * cannot make it create a second engine or extra replicas. Expectations lapse after a while
 * (an event lost by a watch restart must not wedge the volume).
 */

const LAPSE_MS = 30_000;

export class Expectations {
  private readonly pending = new Map<string, { at: number; items: Map<string, 'create' | 'delete'> }>();

  expect(owner: string, kind: string, name: string, op: 'create' | 'delete', now: number): void {
    let p = this.pending.get(owner);
    if (p === undefined) {
      p = { at: now, items: new Map() };
      this.pending.set(owner, p);
    }
    p.at = now;
    p.items.set(`${kind}/${name}`, op);
  }

  /**
   * True when everything expected for `owner` is in the caches (`exists(kind, name)` says
   * whether an object is there and not being deleted).
   */
  satisfied(owner: string, now: number, exists: (kind: string, name: string) => boolean): boolean {
    const p = this.pending.get(owner);
    if (p === undefined) return true;
    for (const [item, op] of p.items) {
      const i = item.indexOf('/');
      const present = exists(item.slice(0, i), item.slice(i + 1));
      if ((op === 'create') === present) p.items.delete(item);
    }
    if (p.items.size === 0 || now - p.at > LAPSE_MS) {
      this.pending.delete(owner);
      return true;
    }
    return false;
  }

  forget(owner: string): void {
    this.pending.delete(owner);
  }
}
