import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/runtime/api-errors.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { runWorkers, WorkQueue } from '../../src/runtime/work-queue.js';

/** Let pending promise callbacks run (one event-loop turn, not a timed sleep). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('WorkQueue', () => {
  it('drops a key that is already queued', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.length).toBe(0);
  });

  it('holds a key re-added while it is processed until done', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('ns/a');
    const key = await q.get();
    q.add('ns/a');
    q.add('ns/a');
    expect(q.length).toBe(0);
    expect(q.isProcessing('ns/a')).toBe(true);
    q.done(key!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('ns/a');
    q.done('ns/a');
    expect(q.length).toBe(0);
  });

  it('gives a key to one getter at a time', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    const first = q.get();
    const second = q.get();
    q.add('ns/a');
    expect(await first).toBe('ns/a');
    q.add('ns/a');
    let got: string | undefined;
    void second.then((k) => {
      got = k;
    });
    await flush();
    expect(got).toBeUndefined();
    q.done('ns/a');
    await flush();
    expect(got).toBe('ns/a');
  });

  it('backs off per key from 5 ms doubling to a 60 s cap, and forgets', () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    const delays = Array.from({ length: 16 }, () => q.addRateLimited('ns/a'));
    expect(delays).toEqual([
      5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 40960, 60000, 60000,
    ]);
    expect(q.numRequeues('ns/a')).toBe(16);
    expect(q.addRateLimited('ns/b')).toBe(5);
    q.forget('ns/a');
    expect(q.numRequeues('ns/a')).toBe(0);
    expect(q.addRateLimited('ns/a')).toBe(5);
  });

  it('hands out a rate-limited key only when its delay has passed', () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.addRateLimited('ns/a');
    expect(q.length).toBe(0);
    expect(q.delayed).toBe(1);
    clock.advance(4);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(q.length).toBe(1);
    expect(q.delayed).toBe(0);
  });

  it.each([
    { name: 'a sooner time replaces a later one', afters: [100, 50], fireAt: 50 },
    { name: 'a later time does not postpone', afters: [100, 200], fireAt: 100 },
    { name: 'equal times fire once', afters: [70, 70, 70], fireAt: 70 },
  ])('addAfter: $name', ({ afters, fireAt }) => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    for (const ms of afters) q.addAfter('ns/a', ms);
    expect(q.delayed).toBe(1);
    clock.advance(fireAt - 1);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(q.length).toBe(1);
    clock.advance(1000);
    expect(q.length).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('addAfter with no delay adds at once', () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.addAfter('ns/a', 0);
    expect(q.length).toBe(1);
  });

  it('a delayed key that is already queued is not queued twice', () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.add('ns/a');
    q.addAfter('ns/a', 10);
    clock.advance(10);
    expect(q.length).toBe(1);
  });

  it('shuts down: waiting getters end, timers are cancelled, adds are ignored', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    const waiting = q.get();
    q.addAfter('ns/a', 100);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    expect(clock.pending).toBe(0);
    q.add('ns/b');
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();
  });
});

describe('runWorkers', () => {
  it('retries a failing key with back-off and forgets it on success', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    const calls: number[] = [];
    const running = runWorkers(q, async () => {
      calls.push(clock.now());
      if (calls.length <= 2) throw new Error('boom');
    });
    q.add('ns/a');
    await flush();
    expect(calls).toEqual([0]);
    clock.advance(4);
    await flush();
    expect(calls).toEqual([0]);
    clock.advance(1);
    await flush();
    expect(calls).toEqual([0, 5]);
    clock.advance(9);
    await flush();
    expect(calls).toEqual([0, 5]);
    clock.advance(1);
    await flush();
    expect(calls).toEqual([0, 5, 15]);
    expect(q.numRequeues('ns/a')).toBe(0);
    q.shutDown();
    await running;
  });

  it('looks at a key again when the reconcile asks', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    let n = 0;
    const running = runWorkers(q, async () => {
      n++;
      return n === 1 ? { requeueAfterMs: 1000 } : undefined;
    });
    q.add('ns/a');
    await flush();
    expect(n).toBe(1);
    clock.advance(999);
    await flush();
    expect(n).toBe(1);
    clock.advance(1);
    await flush();
    expect(n).toBe(2);
    expect(q.delayed).toBe(0);
    q.shutDown();
    await running;
  });

  it('requeues a conflict with back-off and logs it at debug', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    const logged: string[] = [];
    const logger = {
      debug: (_o: unknown, msg: string) => logged.push(`debug ${msg}`),
      warn: (_o: unknown, msg: string) => logged.push(`warn ${msg}`),
    };
    let n = 0;
    const running = runWorkers(
      q,
      async () => {
        n++;
        if (n === 1) throw new ConflictError({ kind: 'Volume', namespace: 'ns', name: 'a' }, 'changed');
        if (n === 2) throw new Error('other');
      },
      { logger: logger as never },
    );
    q.add('ns/a');
    await flush();
    clock.advance(5);
    await flush();
    clock.advance(10);
    await flush();
    expect(n).toBe(3);
    expect(logged).toEqual(['debug conflict, requeued', 'warn reconcile failed, requeued']);
    q.shutDown();
    await running;
  });

  it('processes different keys in parallel but one key at a time', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const active = new Set<string>();
    const log: string[] = [];
    let maxParallel = 0;
    let overlaps = 0;
    const running = runWorkers(
      q,
      async (key) => {
        if (active.has(key)) overlaps++;
        active.add(key);
        maxParallel = Math.max(maxParallel, active.size);
        log.push(`start ${key}`);
        const gate = deferred();
        gates.set(key, gate);
        await gate.promise;
        active.delete(key);
        log.push(`end ${key}`);
      },
      { workers: 3 },
    );
    q.add('ns/a');
    q.add('ns/b');
    await flush();
    q.add('ns/a');
    await flush();
    expect(log).toEqual(['start ns/a', 'start ns/b']);
    gates.get('ns/a')!.resolve();
    await flush();
    await flush();
    expect(log).toEqual(['start ns/a', 'start ns/b', 'end ns/a', 'start ns/a']);
    gates.get('ns/a')!.resolve();
    gates.get('ns/b')!.resolve();
    await flush();
    expect(maxParallel).toBe(2);
    expect(overlaps).toBe(0);
    q.shutDown();
    await running;
  });
});

describe('ManualClock', () => {
  it('fires timers in due order, including ones set while firing', () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimer(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimer(() => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(() => fired.push(`c@${clock.now()}`), 5);
    }, 10);
    const cancelled = clock.setTimer(() => fired.push('never'), 15);
    cancelled.cancel();
    expect(clock.nextDelay()).toBe(10);
    clock.advance(30);
    expect(fired).toEqual(['a@1010', 'c@1015', 'b@1020']);
    expect(clock.now()).toBe(1030);
    expect(clock.nextDelay()).toBeUndefined();
  });
});
