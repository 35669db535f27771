import { describe, expect, it } from 'vitest';
import { ExtentSet } from '../../src/replica/index.js';
import { rng } from './random-ops.js';

describe('ExtentSet', () => {
  it('merges touching ranges and splits on removal', () => {
    const s = new ExtentSet();
    s.add(10, 20);
    s.add(20, 30);
    s.add(40, 50);
    expect([...s]).toEqual([
      [10, 30],
      [40, 50],
    ]);
    s.add(25, 45);
    expect([...s]).toEqual([[10, 50]]);
    s.remove(15, 18);
    expect([...s]).toEqual([
      [10, 15],
      [18, 50],
    ]);
    expect(s.blockCount).toBe(37);
    const out: number[] = [];
    expect(s.overlaps(12, 20, out)).toBe(2);
    expect(out).toEqual([12, 15, 18, 20]);
    expect(s.covers(20, 50)).toBe(true);
    expect(s.covers(14, 19)).toBe(false);
  });

  it('matches a bitmap model over random adds and removes across many chunks', () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const r = rng(seed);
    const N = 20_000;
    const model = new Uint8Array(N);
    const s = new ExtentSet();
    for (let i = 0; i < 40_000; i++) {
      const a = Math.floor(r() * N);
      const b = Math.min(N, a + 1 + Math.floor(r() * (i % 2 ? 4 : 40)));
      if (r() < 0.35) {
        s.remove(a, b);
        model.fill(0, a, b);
      } else {
        s.add(a, b);
        model.fill(1, a, b);
      }
    }
    const seen = new Uint8Array(N);
    let prevEnd = -1;
    let count = 0;
    for (const [a, b] of s) {
      expect(a, `seed ${seed}`).toBeGreaterThan(prevEnd); // disjoint and never adjacent
      seen.fill(1, a, b);
      prevEnd = b;
      count++;
    }
    expect(Buffer.from(seen).equals(Buffer.from(model)), `seed ${seed}`).toBe(true);
    expect(s.extentCount).toBe(count);
    expect(s.blockCount).toBe(model.reduce((x, y) => x + y, 0));
  });

  it('costs one entry for a fully written layer, and ~16 bytes per extent when sparse', () => {
    const full = new ExtentSet();
    const blocks = 2 ** 28; // 1 TiB of 4 KiB blocks
    for (let b = 0; b < blocks; b += 1 << 20) full.add(b, b + (1 << 20));
    expect(full.extentCount).toBe(1);
    expect(full.memoryBytes()).toBeLessThan(16 * 1024);
    const sparse = new ExtentSet();
    for (let i = 0; i < 100_000; i++) sparse.add(i * 64, i * 64 + 1);
    expect(sparse.memoryBytes() / sparse.extentCount).toBeLessThan(40);
  });
});
