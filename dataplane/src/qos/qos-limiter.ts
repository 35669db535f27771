/**
 * Admission for one volume's I/O under its QoS limits. Every request takes one operation and
 * its bytes from the buckets that apply to it (read or write, and the combined ones); requests
 * are admitted strictly in arrival order, so a large write is not overtaken forever by small
 * reads. Limits change online: the buckets start over and the queue is re-timed at once.
 */
import { Gcra } from './gcra.js';
import { DEFAULT_BURST_SECONDS, type QosLimits, validateQosLimits } from './limits.js';

export type IoKind = 'read' | 'write';

export interface QosClock {
  now(): number;
  setTimer(fn: () => void, ms: number): { cancel(): void };
}

export const systemQosClock: QosClock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

interface Buckets {
  ops: Record<IoKind, Gcra[]>;
  bytes: Record<IoKind, Gcra[]>;
}

interface Waiter {
  kind: IoKind;
  bytes: number;
  arrived: number;
  admit: () => void;
}

export interface QosStats {
  limits: QosLimits;
  /** Requests that had to wait. */
  throttledRequests: number;
  /** Total time requests spent waiting, in ms. */
  throttledMs: number;
  /** Requests waiting now. */
  queued: number;
}

function bucketsFor(limits: QosLimits, now: number): Buckets {
  const burst = limits.burstSeconds ?? DEFAULT_BURST_SECONDS;
  const make = (rate: number | undefined) =>
    rate === undefined ? [] : [new Gcra(rate, Math.max(1, rate * burst), now)];
  const iops = make(limits.iops);
  const bandwidth = make(limits.bandwidth);
  return {
    ops: { read: [...make(limits.readIops), ...iops], write: [...make(limits.writeIops), ...iops] },
    bytes: {
      read: [...make(limits.readBandwidth), ...bandwidth],
      write: [...make(limits.writeBandwidth), ...bandwidth],
    },
  };
}

export class QosLimiter {
  private limits: QosLimits = {};
  private buckets: Buckets;
  private readonly queue: Waiter[] = [];
  private timer: { cancel(): void } | undefined;
  private throttledRequests = 0;
  private throttledMs = 0;

  constructor(
    limits: QosLimits = {},
    private readonly clock: QosClock = systemQosClock,
  ) {
    this.limits = validateQosLimits(limits);
    this.buckets = bucketsFor(this.limits, clock.now());
  }

  /** Replaces the limits (validated first; a bad set changes nothing) and re-times the queue. */
  setLimits(limits: QosLimits): QosLimits {
    this.limits = validateQosLimits(limits);
    this.buckets = bucketsFor(this.limits, this.clock.now());
    this.timer?.cancel();
    this.timer = undefined;
    this.drain();
    return this.limits;
  }

  stats(): QosStats {
    return {
      limits: { ...this.limits },
      throttledRequests: this.throttledRequests,
      throttledMs: Math.round(this.throttledMs),
      queued: this.queue.length,
    };
  }

  /** True when some limit applies to requests of this kind. */
  applies(kind: IoKind): boolean {
    return this.buckets.ops[kind].length + this.buckets.bytes[kind].length > 0;
  }

  /** Resolves when a request of `bytes` may start; at once when nothing limits it. */
  admit(kind: IoKind, bytes: number): Promise<void> | undefined {
    if (!this.applies(kind)) return undefined;
    const now = this.clock.now();
    if (this.queue.length === 0 && this.readyAt(kind, bytes, now) <= now) {
      this.take(kind, bytes, now);
      return undefined;
    }
    return new Promise((admit) => {
      this.queue.push({ kind, bytes, arrived: now, admit });
      if (this.queue.length === 1) this.drain();
    });
  }

  /** Lets every waiting request go (the device is closing). */
  release(): void {
    this.timer?.cancel();
    this.timer = undefined;
    for (const w of this.queue.splice(0)) w.admit();
  }

  private readyAt(kind: IoKind, bytes: number, now: number): number {
    let at = now;
    for (const b of this.buckets.ops[kind]) at = Math.max(at, b.readyAt(1, now));
    for (const b of this.buckets.bytes[kind]) at = Math.max(at, b.readyAt(bytes, now));
    return at;
  }

  private take(kind: IoKind, bytes: number, now: number): void {
    for (const b of this.buckets.ops[kind]) b.take(1, now);
    for (const b of this.buckets.bytes[kind]) b.take(bytes, now);
  }

  private drain(): void {
    const now = this.clock.now();
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const at = this.readyAt(head.kind, head.bytes, now);
      if (at > now) {
        // Timers fire no earlier than asked, in whole ms.
        this.timer = this.clock.setTimer(
          () => {
            this.timer = undefined;
            this.drain();
          },
          Math.max(1, Math.ceil(at - now)),
        );
        return;
      }
      this.queue.shift();
      this.take(head.kind, head.bytes, now);
      this.throttledRequests++;
      this.throttledMs += now - head.arrived;
      head.admit();
    }
  }
}
