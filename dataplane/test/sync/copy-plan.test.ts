import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/net/token-bucket.js';
import { COPY_CHUNK, planCopy, totalBytes } from '../../src/sync/copy-plan.js';

describe('planCopy', () => {
  it('splits ranges into chunks and skips holes', () => {
    const pieces = planCopy(
      [
        { name: 'a', ranges: [{ offset: 0, length: COPY_CHUNK + 4096 }] },
        { name: 'b', ranges: [] },
        { name: 'c', ranges: [{ offset: 10 * COPY_CHUNK, length: 4096 }] },
      ],
      COPY_CHUNK,
    );
    expect(pieces).toEqual([
      { layer: 'a', offset: 0, length: COPY_CHUNK },
      { layer: 'a', offset: COPY_CHUNK, length: 4096 },
      { layer: 'c', offset: 10 * COPY_CHUNK, length: 4096 },
    ]);
    expect(totalBytes(pieces)).toBe(COPY_CHUNK + 8192);
  });
});

describe('TokenBucket', () => {
  it('holds a stream to its rate', async () => {
    const bucket = new TokenBucket(1_000_000);
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) await bucket.take(100_000);
    // 3 MB at 1 MB/s with a 1 s burst: about 2 s.
    expect(performance.now() - t0).toBeGreaterThan(1500);
  });

  it('takes a new rate online: a taker waiting on a slow rate goes on once the limit is lifted', async () => {
    const bucket = new TokenBucket(1000);
    await bucket.take(1000);
    const t0 = performance.now();
    const waiting = bucket.take(100_000); // 100 s at 1000 B/s
    setTimeout(() => bucket.setRate(0), 50);
    await waiting;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(bucket.unlimited).toBe(true);
    expect(() => bucket.setRate(-1)).toThrow(/non-negative integer/);
  });

  it('does not wait when unlimited', async () => {
    const bucket = new TokenBucket(0);
    // Any wait on a timer would let this macrotask run before the takes are done.
    let timerRan = false;
    const immediate = setImmediate(() => {
      timerRan = true;
    });
    for (let i = 0; i < 1000; i++) await bucket.take(1 << 20);
    expect(timerRan).toBe(false);
    clearImmediate(immediate);
  });
});
