/**
 * A BlockDevice wrapped in QoS limits, the way nbdkit stacks its rate filter on a plugin: the
 * device below (the engine) knows nothing about limits. Reads and writes cost one operation
 * and their bytes; write-zeroes and trims cost one write operation and no bytes (nothing
 * crosses the wire); flushes are never held back.
 */
import type { BlockDevice, FileSpan } from '../block/block-device.js';
import type { QosLimits } from './limits.js';
import { type QosClock, QosLimiter, type QosStats } from './qos-limiter.js';

export class QosBlockDevice implements BlockDevice {
  readonly limiter: QosLimiter;

  constructor(
    private readonly inner: BlockDevice,
    limits: QosLimits = {},
    clock?: QosClock,
  ) {
    this.limiter = new QosLimiter(limits, clock);
  }

  get canMultiConn(): boolean {
    return this.inner.canMultiConn;
  }

  size(): number {
    return this.inner.size();
  }

  setLimits(limits: QosLimits): QosLimits {
    return this.limiter.setLimits(limits);
  }

  qosStats(): QosStats {
    return this.limiter.stats();
  }

  read(offset: number, length: number): Promise<Buffer> {
    const wait = this.limiter.admit('read', length);
    return wait ? wait.then(() => this.inner.read(offset, length)) : this.inner.read(offset, length);
  }

  /** Only for reads nothing limits: a limited read waits its turn on the copying path. */
  readSpan(offset: number, length: number): FileSpan | null {
    if (!this.inner.readSpan || this.limiter.applies('read')) return null;
    return this.inner.readSpan(offset, length);
  }

  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    const wait = this.limiter.admit('write', data.length);
    return wait ? wait.then(() => this.inner.write(offset, data, fua)) : this.inner.write(offset, data, fua);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  trim(offset: number, length: number, fua: boolean): Promise<void> {
    const wait = this.limiter.admit('write', 0);
    return wait
      ? wait.then(() => this.inner.trim(offset, length, fua))
      : this.inner.trim(offset, length, fua);
  }

  writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    const wait = this.limiter.admit('write', 0);
    return wait
      ? wait.then(() => this.inner.writeZeroes(offset, length, fua))
      : this.inner.writeZeroes(offset, length, fua);
  }
}
