import { describe, expect, it } from 'vitest';
import { IoStatsDevice } from '../../src/frontend/io-stats-device.js';
import { MemoryBlockDevice } from '../nbd/memory-device.js';

describe('IoStatsDevice', () => {
  it('counts reads and writes (zeroes and trims as writes of no bytes) with their time; flushes not', async () => {
    const dev = new IoStatsDevice(new MemoryBlockDevice(1 << 20));
    await dev.write(0, Buffer.alloc(8192, 1), false);
    await dev.write(8192, Buffer.alloc(4096, 2), true);
    await dev.writeZeroes(0, 4096, false);
    await dev.trim(4096, 4096, false);
    await dev.flush();
    const back = await dev.read(8192, 4096);
    expect(back.equals(Buffer.alloc(4096, 2))).toBe(true);
    const c = dev.counters();
    expect(c).toMatchObject({ readOps: 1, readBytes: 4096, writeOps: 4, writeBytes: 12288 });
    expect(c.readLatencyNs).toBeGreaterThan(0);
    expect(c.writeLatencyNs).toBeGreaterThan(0);
  });

  it('a failed request is not counted and its error passes through', async () => {
    const dev = new IoStatsDevice(new MemoryBlockDevice(4096));
    await expect(dev.read(4096, 4096)).rejects.toThrow();
    expect(dev.counters().readOps).toBe(0);
  });
});
