import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Replica } from '../../src/replica/index.js';
import type { Model } from './model.js';

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** First differing offset of two equal-length buffers, or -1. */
export function firstDiff(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (a.equals(b)) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Compares the replica's volume view, snapshot tree and live snapshots' views with the model. */
export async function expectMatches(replica: Replica, m: Model, what: string, deep: boolean): Promise<void> {
  const info = replica.info();
  if (info.size !== m.size) throw new Error(`${what}: size ${info.size} != model ${m.size}`);
  const view = await replica.read(0, m.size);
  const d = firstDiff(view, m.head);
  if (d >= 0) throw new Error(`${what}: volume differs at byte ${d} (got ${view[d]}, want ${m.head[d]})`);
  const chain = replica.chain();
  const head = chain[chain.length - 1]!;
  if (head.name !== info.headName) throw new Error(`${what}: chain does not end with the head`);
  if (head.parent !== m.headParent) throw new Error(`${what}: head parent ${head.parent} != ${m.headParent}`);
  const snaps = chain.slice(0, -1);
  const got = snaps.map((s) => `${s.name}<${s.parent}${s.removed ? ' removed' : ''}`).sort();
  const want = [...m.snaps].map(([k, s]) => `${k}<${s.parent}${s.removed ? ' removed' : ''}`).sort();
  if (got.join() !== want.join()) throw new Error(`${what}: chain ${got.join()} != model ${want.join()}`);
  if (!deep) return;
  for (const [name, s] of m.snaps) {
    if (s.removed || !s.view) continue;
    const v = await replica.readSnapshot(name, 0, m.size);
    const want = Buffer.alloc(m.size);
    s.view.copy(want);
    const dd = firstDiff(v, want);
    if (dd >= 0) throw new Error(`${what}: snapshot ${name} differs at byte ${dd}`);
  }
  // Allocation-aware reads: every non-zero byte of the view lies in an allocated range.
  const zeros = Buffer.alloc(m.size);
  const isZero = (a: number, b: number): boolean => view.subarray(a, b).equals(zeros.subarray(0, b - a));
  let cursor = 0;
  for (const r of await replica.allocatedRanges()) {
    if (!isZero(cursor, r.offset)) throw new Error(`${what}: data outside allocatedRanges`);
    cursor = r.offset + r.length;
  }
  if (!isZero(cursor, m.size)) throw new Error(`${what}: data outside allocatedRanges`);
}
