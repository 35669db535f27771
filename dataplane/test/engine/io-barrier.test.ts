import { describe, expect, it } from 'vitest';
import { IoBarrier } from '../../src/engine/io-barrier.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe('IoBarrier', () => {
  it('runs exclusive sections one at a time (a snapshot never overlaps an expansion)', async () => {
    const b = new IoBarrier();
    const log: string[] = [];
    const first = deferred();
    const a = b.exclusive(async () => {
      log.push('a:start');
      await first.promise;
      log.push('a:end');
    });
    const c = b.exclusive(async () => {
      log.push('c:start');
      log.push('c:end');
    });
    await settle();
    expect(log).toEqual(['a:start']);
    first.resolve();
    await Promise.all([a, c]);
    expect(log).toEqual(['a:start', 'a:end', 'c:start', 'c:end']);
  });

  it('drains admitted I/O before a section and holds new I/O until it ends', async () => {
    const b = new IoBarrier();
    expect(b.enter()).toBeUndefined();
    let ran = false;
    const section = b.exclusive(async () => {
      ran = true;
    });
    await settle();
    expect(ran).toBe(false);
    const waiting = b.enter();
    expect(waiting).toBeInstanceOf(Promise);
    b.leave();
    await section;
    expect(ran).toBe(true);
    await waiting;
    b.leave();
  });

  it('close runs after the running section and the I/O queued before it, then refuses I/O and sections', async () => {
    const b = new IoBarrier();
    const first = deferred();
    const log: string[] = [];
    const a = b.exclusive(async () => {
      await first.promise;
      log.push('a');
    });
    const closing = b.close(async () => {
      log.push('close');
    }, new Error('stopped'));
    await settle();
    // I/O that arrived before the close is served between the two sections, then drained.
    const early = b.enter()!.then(() => {
      log.push('io');
      b.leave();
    });
    first.resolve();
    await Promise.all([a, early, closing]);
    expect(log).toEqual(['a', 'io', 'close']);
    await expect(b.enter()).rejects.toThrow('stopped');
    await expect(b.exclusive(async () => {})).rejects.toThrow('stopped');
  });
});

describe('IoBarrier.isOpen (whether a read may be answered at once, from a file span)', () => {
  it('is false while an exclusive section waits or runs, and for good once closed', async () => {
    const b = new IoBarrier();
    expect(b.isOpen()).toBe(true);
    expect(b.enter()).toBeUndefined();
    const section = deferred();
    const done = b.exclusive(() => section.promise);
    await settle();
    // Waiting for the request in flight to leave: new I/O already waits.
    expect(b.isOpen()).toBe(false);
    b.leave();
    await settle();
    expect(b.isOpen()).toBe(false);
    section.resolve();
    await done;
    expect(b.isOpen()).toBe(true);
    await b.close(async () => {}, new Error('closed'));
    expect(b.isOpen()).toBe(false);
  });
});
