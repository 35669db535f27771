import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InlineWrites, pwrite } from '../../src/replica/file-io.js';

describe('InlineWrites (when small writes stay on the event loop)', () => {
  it('keeps writing inline through a few slow writes within the stall budget', () => {
    const w = new InlineWrites(1, 20, 1000);
    // Five 3 ms writes in one second: 15 ms stalled, under the 20 ms budget.
    for (let i = 0; i < 5; i++) w.took(100 + i * 100, 103 + i * 100);
    expect(w.allowed(600)).toBe(true);
    // Fast writes never count.
    for (let t = 600; t < 700; t++) w.took(t, t + 0.5);
    expect(w.allowed(700)).toBe(true);
  });

  it('sends writes to the pool for the back-off once a second holds more stall than the budget', () => {
    const w = new InlineWrites(1, 20, 1000);
    w.took(100, 112);
    expect(w.allowed(112)).toBe(true);
    w.took(200, 210); // 22 ms stalled within one second
    expect(w.allowed(210)).toBe(false);
    expect(w.allowed(1209)).toBe(false);
    expect(w.allowed(1210)).toBe(true);
  });

  it('starts counting afresh each second', () => {
    const w = new InlineWrites(1, 20, 1000);
    w.took(0, 15);
    w.took(1500, 1515); // a new window: 15 ms, not 30
    expect(w.allowed(1515)).toBe(true);
    w.took(1600, 1606); // 21 ms in the window that began at 1500
    expect(w.allowed(1606)).toBe(false);
  });
});

describe('pwrite (in pieces of at most 256 KiB)', () => {
  it('writes every byte of large and odd-sized writes, inline and through the pool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwrite-'));
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      const src = randomBytes(3 * 1024 * 1024);
      // Inline (up to 1 MiB) and through the pool (larger), from an odd buffer offset to an odd
      // file position, so the last piece is short.
      await pwrite(fd, src, 13, 300 * 1024 + 7, 4096 + 5);
      await pwrite(fd, src, 1000, 2 * 1024 * 1024 + 3, 8 * 1024 * 1024 + 1);
      const a = Buffer.alloc(300 * 1024 + 7);
      readSync(fd, a, 0, a.length, 4096 + 5);
      expect(a.equals(src.subarray(13, 13 + a.length))).toBe(true);
      const b = Buffer.alloc(2 * 1024 * 1024 + 3);
      readSync(fd, b, 0, b.length, 8 * 1024 * 1024 + 1);
      expect(b.equals(src.subarray(1000, 1000 + b.length))).toBe(true);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
