import { describe, expect, it } from 'vitest';
import { InlineWrites } from '../../src/replica/file-io.js';

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
