import { BS, type Model } from './model.js';

/** mulberry32: small, fast, good enough to drive random tests reproducibly from a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Op =
  | { kind: 'write'; offset: number; data: Buffer }
  | { kind: 'unmap'; offset: number; length: number }
  | { kind: 'writeZeroes'; offset: number; length: number }
  | { kind: 'flush' }
  | { kind: 'snapshot'; name: string }
  | { kind: 'markRemoved'; name: string }
  | { kind: 'purge' }
  | { kind: 'revert'; name: string }
  | { kind: 'expand'; size: number }
  | { kind: 'reopen' };

export interface OpProfile {
  maxSize: number;
  maxSnapshots: number;
  /** Allow close + reopen as an op (the model test does; the crash test reopens by killing). */
  reopen: boolean;
  /** Allow unmap where the model cannot predict the bytes (behind a pruned layer). */
  unspecifiedUnmap: boolean;
}

/** Picks the next op from the model's state; deterministic for a given random source. */
export function nextOp(m: Model, r: () => number, counter: { n: number }, p: OpProfile): Op {
  const int = (n: number): number => Math.floor(r() * n);
  const range = (): { offset: number; length: number } => {
    const aligned = r() < 0.5;
    const big = r() < 0.1;
    let length = big ? 1 + int(256 * 1024) : 1 + int(16 * 1024);
    if (aligned) length = Math.max(BS, Math.floor(length / BS) * BS);
    length = Math.min(length, m.size);
    let offset = int(m.size - length + 1);
    if (aligned) offset = Math.floor(offset / BS) * BS;
    return { offset, length };
  };
  const live = [...m.snaps].filter(([, s]) => !s.removed).map(([k]) => k);
  const pick = (list: string[]): string => list[int(list.length)]!;
  const x = r();
  if (x < 0.45) {
    const { offset, length } = range();
    const data = Buffer.allocUnsafe(length);
    if (length < 4) data.fill(1 + int(255));
    else
      for (let i = 0; i < length; i += 4)
        data.writeUInt32LE((r() * 4294967296) >>> 0, Math.min(i, length - 4));
    return { kind: 'write', offset, data };
  }
  if (x < 0.53) {
    if (!p.unspecifiedUnmap && m.chainHasPruned()) return { kind: 'writeZeroes', ...range() };
    return { kind: 'unmap', ...range() };
  }
  if (x < 0.61) return { kind: 'writeZeroes', ...range() };
  if (x < 0.64) return { kind: 'flush' };
  if (x < 0.71 && m.snaps.size < p.maxSnapshots) return { kind: 'snapshot', name: `s${counter.n++}` };
  if (x < 0.77 && live.length > 0) return { kind: 'markRemoved', name: pick(live) };
  if (x < 0.82) return { kind: 'purge' };
  if (x < 0.85 && live.length > 0) return { kind: 'revert', name: pick(live) };
  if (x < 0.87 && m.size < p.maxSize) {
    return { kind: 'expand', size: Math.min(p.maxSize, m.size + BS * (1 + int(16))) };
  }
  if (x < 0.88 && p.reopen) return { kind: 'reopen' };
  return { kind: 'flush' };
}

/** Applies an op to the model; returns purge's result for comparison. */
export function applyToModel(m: Model, op: Op): string[] | undefined {
  switch (op.kind) {
    case 'write':
      m.write(op.offset, op.data);
      return;
    case 'unmap':
      m.unmap(op.offset, op.length);
      return;
    case 'writeZeroes':
      m.writeZeroes(op.offset, op.length);
      return;
    case 'snapshot':
      m.snapshot(op.name);
      return;
    case 'markRemoved':
      m.markRemoved(op.name);
      return;
    case 'purge':
      return m.purge();
    case 'revert':
      m.revert(op.name);
      return;
    case 'expand':
      m.expand(op.size);
      return;
    default:
      return;
  }
}

/** The replica calls for an op (structurally typed so the child and tests share it). */
export interface OpTarget {
  write(offset: number, data: Buffer): Promise<void>;
  unmap(offset: number, length: number): Promise<void>;
  writeZeroes(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
  snapshot(name: string): Promise<void>;
  markRemoved(name: string): Promise<void>;
  purge(): Promise<string[]>;
  revert(name: string): Promise<void>;
  expand(size: number): Promise<void>;
}

export async function applyToReplica(t: OpTarget, op: Op): Promise<string[] | undefined> {
  switch (op.kind) {
    case 'write':
      return void (await t.write(op.offset, op.data));
    case 'unmap':
      return void (await t.unmap(op.offset, op.length));
    case 'writeZeroes':
      return void (await t.writeZeroes(op.offset, op.length));
    case 'flush':
      return void (await t.flush());
    case 'snapshot':
      return void (await t.snapshot(op.name));
    case 'markRemoved':
      return void (await t.markRemoved(op.name));
    case 'purge':
      return t.purge();
    case 'revert':
      return void (await t.revert(op.name));
    case 'expand':
      return void (await t.expand(op.size));
    default:
      return;
  }
}

/** The crash test's op mix: reopening happens by SIGKILL, and every result is predictable. */
export const CRASH_PROFILE: OpProfile = {
  maxSize: 2 << 20,
  maxSnapshots: 8,
  reopen: false,
  unspecifiedUnmap: false,
};
