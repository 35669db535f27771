/**
 * Counts what the frontend asks of a BlockDevice: operations, bytes and time to completion,
 * for reads and for writes (write-zeroes and trims count as writes of no bytes; flushes are
 * not counted). Cumulative since the engine started; readers compute rates from two samples.
 */
import type { BlockDevice, FileSpan } from '../block/block-device.js';

export interface IoCounters {
  readOps: number;
  readBytes: number;
  /** Sum of read completion times, ns. */
  readLatencyNs: number;
  /** Of readOps, those sent from a file span without a copy (BlockDevice.readSpan). */
  zeroCopyReads: number;
  writeOps: number;
  writeBytes: number;
  writeLatencyNs: number;
}

export function zeroIoCounters(): IoCounters {
  return {
    readOps: 0,
    readBytes: 0,
    readLatencyNs: 0,
    zeroCopyReads: 0,
    writeOps: 0,
    writeBytes: 0,
    writeLatencyNs: 0,
  };
}

const nowNs = () => performance.now() * 1e6;

export class IoStatsDevice implements BlockDevice {
  private readonly c = zeroIoCounters();

  constructor(private readonly inner: BlockDevice) {}

  get canMultiConn(): boolean {
    return this.inner.canMultiConn;
  }

  size(): number {
    return this.inner.size();
  }

  counters(): IoCounters {
    return {
      ...this.c,
      readLatencyNs: Math.round(this.c.readLatencyNs),
      writeLatencyNs: Math.round(this.c.writeLatencyNs),
    };
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const t0 = nowNs();
    const data = await this.inner.read(offset, length);
    this.c.readOps++;
    this.c.readBytes += length;
    this.c.readLatencyNs += nowNs() - t0;
    return data;
  }

  /** A span is the whole read, done at once: it counts with no time. */
  readSpan(offset: number, length: number): FileSpan | null {
    const span = this.inner.readSpan?.(offset, length) ?? null;
    if (span) {
      this.c.readOps++;
      this.c.zeroCopyReads++;
      this.c.readBytes += length;
    }
    return span;
  }

  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    return this.timedWrite(data.length, () => this.inner.write(offset, data, fua));
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  trim(offset: number, length: number, fua: boolean): Promise<void> {
    return this.timedWrite(0, () => this.inner.trim(offset, length, fua));
  }

  writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    return this.timedWrite(0, () => this.inner.writeZeroes(offset, length, fua));
  }

  private async timedWrite(bytes: number, op: () => Promise<void>): Promise<void> {
    const t0 = nowNs();
    await op();
    this.c.writeOps++;
    this.c.writeBytes += bytes;
    this.c.writeLatencyNs += nowNs() - t0;
  }
}
