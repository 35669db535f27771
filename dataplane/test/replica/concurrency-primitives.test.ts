import { describe, expect, it } from 'vitest';
import { BlockLocks, type HeldRange } from '../../src/replica/block-locks.js';
import { IoGate } from '../../src/replica/io-gate.js';

describe('BlockLocks', () => {
  it('grants disjoint ranges at once and queues overlapping ones in order', async () => {
    const locks = new BlockLocks();
    const a = locks.acquire(0, 4) as HeldRange;
    const b = locks.acquire(4, 8) as HeldRange;
    expect(a).not.toBeInstanceOf(Promise);
    expect(b).not.toBeInstanceOf(Promise);
    const order: string[] = [];
    const c = (locks.acquire(3, 5) as Promise<HeldRange>).then((r) => {
      order.push('c');
      return r;
    });
    // Overlaps a and the earlier waiter c: once a is gone it still waits behind c.
    const d = (locks.acquire(2, 4) as Promise<HeldRange>).then((r) => {
      order.push('d');
      return r;
    });
    expect(locks.acquire(10, 12)).not.toBeInstanceOf(Promise);
    locks.release(a);
    await Promise.resolve();
    expect(order).toEqual([]);
    locks.release(b);
    locks.release(await c);
    await d;
    expect(order).toEqual(['c', 'd']);
  });
});

describe('IoGate', () => {
  it('drains shared I/O before an exclusive section and holds new I/O behind it', async () => {
    const gate = new IoGate();
    const events: string[] = [];
    expect(gate.enter()).toBeNull();
    const ex = gate.exclusive(async () => {
      events.push('exclusive');
    });
    const later = gate.enter();
    expect(later).toBeInstanceOf(Promise);
    void later!.then(() => events.push('io after'));
    await Promise.resolve();
    expect(events).toEqual([]);
    gate.leave();
    await ex;
    await later;
    expect(events).toEqual(['exclusive', 'io after']);
    gate.leave();
  });
});
