import { describe, expect, it } from 'vitest';
import { parseLimitArg, QosLimitError, validateQosLimits } from '../../src/qos/limits.js';
import { type QosClock, QosLimiter } from '../../src/qos/qos-limiter.js';

/** A clock that moves only when told; timers fire in due order. */
class ManualClock implements QosClock {
  t = 0;
  private timers: { due: number; fn: () => void; live: boolean }[] = [];
  now() {
    return this.t;
  }
  setTimer(fn: () => void, ms: number) {
    const timer = { due: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.live = false;
      },
    };
  }
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      next.live = false;
      this.t = next.due;
      next.fn();
      await Promise.resolve();
    }
    this.t = end;
    await Promise.resolve();
  }
}

/** Issues `n` requests at once and records when each was admitted. */
function issue(limiter: QosLimiter, clock: ManualClock, n: number, kind: 'read' | 'write', bytes: number) {
  const admitted: number[] = [];
  for (let i = 0; i < n; i++) {
    const wait = limiter.admit(kind, bytes);
    if (wait === undefined) admitted.push(clock.now());
    else void wait.then(() => admitted.push(clock.now()));
  }
  return admitted;
}

describe('QoS limits', () => {
  it('refuses 0, negative, fractional and unknown limits with the field named', () => {
    expect(() => validateQosLimits({ iops: 0 })).toThrow(/iops limit must be a positive integer .* got 0/);
    expect(() => validateQosLimits({ writeBandwidth: -5 })).toThrow(
      /writeBandwidth limit must be a positive/,
    );
    expect(() => validateQosLimits({ readIops: 1.5 })).toThrow(QosLimitError);
    expect(() => validateQosLimits({ burstSeconds: 0 })).toThrow(/burstSeconds must be a number above 0/);
    expect(() => validateQosLimits({ nope: 3 } as never)).toThrow(/unknown QoS limit "nope"/);
    expect(validateQosLimits({ iops: 100, bandwidth: undefined })).toEqual({ iops: 100 });
  });

  it('parses CLI values: positive integers or "unlimited"', () => {
    expect(parseLimitArg('--iops-limit', '500')).toBe(500);
    expect(parseLimitArg('--iops-limit', 'unlimited')).toBeUndefined();
    expect(() => parseLimitArg('--iops-limit', '0')).toThrow(
      /--iops-limit must be a positive integer or "unlimited", got "0"/,
    );
    expect(() => parseLimitArg('--bandwidth-limit', '-1')).toThrow(/--bandwidth-limit/);
    expect(() => parseLimitArg('--bandwidth-limit', '10M')).toThrow(/got "10M"/);
  });
});

describe('QosLimiter', () => {
  it('lets everything through at once when there are no limits', () => {
    const clock = new ManualClock();
    const limiter = new QosLimiter({}, clock);
    expect(issue(limiter, clock, 1000, 'write', 4096)).toHaveLength(1000);
  });

  it('holds an IOPS limit: one burst, then one operation per interval, in order', async () => {
    const clock = new ManualClock();
    const limiter = new QosLimiter({ iops: 100 }, clock);
    const admitted = issue(limiter, clock, 300, 'read', 4096);
    // One second's burst goes at once.
    expect(admitted).toHaveLength(100);
    await clock.advance(1000);
    expect(admitted.length).toBeGreaterThanOrEqual(199);
    expect(admitted.length).toBeLessThanOrEqual(201);
    await clock.advance(1000);
    expect(admitted).toHaveLength(300);
    // Non-decreasing admission times: FIFO.
    expect([...admitted].sort((a, b) => a - b)).toEqual(admitted);
    expect(limiter.stats().throttledRequests).toBe(200);
  });

  it('limits reads and writes separately and together', async () => {
    const clock = new ManualClock();
    const limiter = new QosLimiter({ writeIops: 10, iops: 1000, burstSeconds: 0.1 }, clock);
    const reads = issue(limiter, clock, 50, 'read', 512);
    expect(reads).toHaveLength(50);
    const writes = issue(limiter, clock, 20, 'write', 512);
    expect(writes).toHaveLength(1);
    await clock.advance(1000);
    expect(writes.length).toBeGreaterThanOrEqual(10);
    expect(writes.length).toBeLessThanOrEqual(12);
  });

  it('holds a bandwidth limit; a request bigger than the burst waits its share', async () => {
    const clock = new ManualClock();
    const limiter = new QosLimiter({ bandwidth: 1024 * 1024 }, clock);
    // 8 MiB in 1 MiB requests at 1 MiB/s: the first goes (full bucket), then one per second.
    const admitted = issue(limiter, clock, 8, 'write', 1024 * 1024);
    expect(admitted).toHaveLength(1);
    await clock.advance(7000);
    expect(admitted).toHaveLength(8);
    // A 4 MiB request on a 1 MiB bucket: let through once full, leaves a 3 s debt.
    await clock.advance(2000);
    const big = issue(limiter, clock, 1, 'write', 4 * 1024 * 1024);
    expect(big).toHaveLength(1);
    const after = issue(limiter, clock, 1, 'write', 1024);
    expect(after).toHaveLength(0);
    await clock.advance(2900);
    expect(after).toHaveLength(0);
    await clock.advance(200);
    expect(after).toHaveLength(1);
  });

  it('changes limits online: the queue is re-timed, a bad set changes nothing', async () => {
    const clock = new ManualClock();
    const limiter = new QosLimiter({ iops: 1, burstSeconds: 1 }, clock);
    const admitted = issue(limiter, clock, 11, 'write', 4096);
    expect(admitted).toHaveLength(1);
    expect(() => limiter.setLimits({ iops: -1 })).toThrow(/iops limit must be a positive/);
    expect(limiter.stats().limits).toEqual({ iops: 1, burstSeconds: 1 });
    limiter.setLimits({});
    await clock.advance(0);
    expect(admitted).toHaveLength(11);
    expect(limiter.stats().queued).toBe(0);
  });

  it('release lets every waiter go', async () => {
    const clock = new ManualClock();
    const limiter = new QosLimiter({ iops: 1 }, clock);
    const admitted = issue(limiter, clock, 5, 'read', 1);
    limiter.release();
    await Promise.resolve();
    expect(admitted).toHaveLength(5);
  });
});
