/**
 * An in-memory model of a replica's observable behaviour: the volume view, the snapshot tree
 * and each snapshot's view. Written independently of the implementation (no shared code).
 */
export const BS = 4096;

export interface ModelSnap {
  parent: string | null;
  removed: boolean;
  /** The volume as of the snapshot; null once pruned (a removed snapshot's bytes are unspecified). */
  view: Buffer | null;
  pruned: boolean;
}

export class Model {
  size: number;
  head: Buffer;
  headParent: string | null = null;
  snaps = new Map<string, ModelSnap>();

  constructor(size: number) {
    this.size = size;
    this.head = Buffer.alloc(size);
  }

  clone(): Model {
    const m = new Model(this.size);
    m.head = Buffer.from(this.head);
    m.headParent = this.headParent;
    for (const [k, s] of this.snaps) m.snaps.set(k, { ...s });
    return m;
  }

  /** What reads show where the head holds nothing: the parent snapshot's view, zero-padded. */
  parentView(): Buffer {
    const out = Buffer.alloc(this.size);
    if (this.headParent !== null) this.snaps.get(this.headParent)!.view?.copy(out);
    return out;
  }

  /** True if some layer under the head was pruned: unmapped blocks then show unspecified data. */
  chainHasPruned(): boolean {
    for (let p = this.headParent; p !== null; p = this.snaps.get(p)!.parent) {
      if (this.snaps.get(p)!.pruned) return true;
    }
    return false;
  }

  write(offset: number, data: Buffer): void {
    data.copy(this.head, offset);
  }

  unmap(offset: number, length: number): void {
    const b0 = Math.ceil(offset / BS) * BS;
    const b1 = Math.floor((offset + length) / BS) * BS;
    if (b1 > b0) this.parentView().copy(this.head, b0, b0, b1);
  }

  writeZeroes(offset: number, length: number): void {
    this.head.fill(0, offset, offset + length);
  }

  snapshot(name: string): void {
    this.snaps.set(name, {
      parent: this.headParent,
      removed: false,
      view: Buffer.from(this.head),
      pruned: false,
    });
    this.headParent = name;
  }

  markRemoved(name: string): void {
    this.snaps.get(name)!.removed = true;
  }

  children(name: string): string[] {
    const out = [...this.snaps].filter(([, s]) => s.parent === name).map(([k]) => k);
    if (this.headParent === name) out.push('<head>');
    return out;
  }

  purge(): string[] {
    const purged: string[] = [];
    for (let changed = true; changed; ) {
      changed = false;
      for (const [name, s] of [...this.snaps]) {
        if (!s.removed) continue;
        const kids = this.children(name);
        if (kids.length === 0 || (kids.length === 1 && kids[0] !== '<head>')) {
          if (kids.length === 1) this.snaps.get(kids[0]!)!.parent = s.parent;
          this.snaps.delete(name);
          purged.push(name);
          changed = true;
        }
      }
    }
    const behind = this.headParent === null ? undefined : this.snaps.get(this.headParent);
    if (behind?.removed && this.children(this.headParent!).length === 1) {
      behind.view = null;
      behind.pruned = true;
      purged.push(this.headParent!);
    }
    return purged;
  }

  revert(name: string): void {
    this.head = Buffer.alloc(this.size);
    this.snaps.get(name)!.view!.copy(this.head);
    this.headParent = name;
  }

  expand(size: number): void {
    const head = Buffer.alloc(size);
    this.head.copy(head);
    this.head = head;
    this.size = size;
  }
}

export interface ModelState {
  size: number;
  head: Uint8Array;
  headParent: string | null;
  snaps: [string, { parent: string | null; removed: boolean; view: Uint8Array | null; pruned: boolean }][];
}

export function modelToState(m: Model): ModelState {
  return { size: m.size, head: m.head, headParent: m.headParent, snaps: [...m.snaps] };
}

export function modelFromState(s: ModelState): Model {
  const m = new Model(s.size);
  m.head = Buffer.from(s.head);
  m.headParent = s.headParent;
  for (const [k, v] of s.snaps) m.snaps.set(k, { ...v, view: v.view ? Buffer.from(v.view) : null });
  return m;
}
