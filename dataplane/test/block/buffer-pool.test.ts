import { describe, expect, it } from 'vitest';
import { BufferPool, MIN_POOLED } from '../../src/block/buffer-pool.js';

describe('BufferPool', () => {
  it('hands a released buffer out again for the same size', () => {
    const pool = new BufferPool();
    const a = pool.acquire(1 << 20);
    expect(pool.owns(a)).toBe(true);
    pool.release(a);
    expect(pool.owns(a)).toBe(false);
    const b = pool.acquire(1 << 20);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.acquire(1 << 20).buffer).not.toBe(a.buffer);
  });

  it('ignores buffers it did not hand out, double releases and views', () => {
    const pool = new BufferPool();
    const foreign = Buffer.alloc(1 << 16);
    pool.release(foreign);
    expect(pool.acquire(1 << 16).buffer).not.toBe(foreign.buffer);
    const a = pool.acquire(1 << 16);
    pool.release(a.subarray(0, 4096));
    expect(pool.owns(a)).toBe(true);
    pool.release(a);
    pool.release(a);
    const b = pool.acquire(1 << 16);
    const c = pool.acquire(1 << 16);
    expect(b.buffer === a.buffer && c.buffer === a.buffer).toBe(false);
  });

  it('does not pool buffers below the minimum', () => {
    const pool = new BufferPool();
    const small = pool.acquire(MIN_POOLED - 1);
    expect(pool.owns(small)).toBe(false);
  });

  it('keeps at most 64 MiB idle', () => {
    const pool = new BufferPool();
    const bufs = Array.from({ length: 80 }, () => pool.acquire(1 << 20));
    for (const b of bufs) pool.release(b);
    const again = Array.from({ length: 80 }, () => pool.acquire(1 << 20));
    const reused = again.filter((b) => bufs.some((x) => x.buffer === b.buffer)).length;
    expect(reused).toBe(64);
  });
});
