import { describe, expect, it } from 'vitest';
import { VolumeIoStore } from '../../src/metrics/volume-io.js';

const counters = (readOps: number, readBytes: number, readLatencyNs: number, writeOps = 0) => ({
  readOps,
  readBytes,
  readLatencyNs,
  zeroCopyReads: 0,
  writeOps,
  writeBytes: writeOps * 4096,
  writeLatencyNs: writeOps * 1000,
});

describe('volume I/O rates from engine counters', () => {
  it('rates are the difference of two samples over their time; latency the mean per operation', () => {
    const store = new VolumeIoStore();
    store.sample('v', counters(100, 409600, 1e6), 0);
    expect(store.entries()).toEqual([]);
    store.sample('v', counters(300, 1228800, 3e6, 50), 2000);
    expect(store.entries()).toEqual([
      [
        'v',
        {
          readIops: 100,
          readThroughput: 409600,
          readLatency: 10_000,
          writeIops: 25,
          writeThroughput: 102400,
          writeLatency: 1000,
        },
      ],
    ]);
  });

  it('a restarted engine (counters went back) starts over; forget drops the volume', () => {
    const store = new VolumeIoStore();
    store.sample('v', counters(100, 1, 1), 0);
    store.sample('v', counters(300, 2, 2), 2000);
    store.sample('v', counters(5, 1, 1), 2100);
    expect(store.entries()).toEqual([]);
    store.sample('v', counters(25, 1, 1), 4100);
    expect(store.entries()[0]?.[1].readIops).toBe(10);
    store.forget('v');
    expect(store.entries()).toEqual([]);
  });

  it('a sample closer than the minimum window to the last one is not used: a burst in 100 ms does not read as a rate', () => {
    const store = new VolumeIoStore(1900);
    store.sample('v', counters(0, 0, 0), 0);
    store.sample('v', counters(200, 0, 0), 2000);
    expect(store.entries()[0]?.[1].readIops).toBe(100);
    // A watch event polls 100 ms later, just after a burst of 50 operations: 500/s over 100 ms.
    store.sample('v', counters(250, 0, 0), 2100);
    expect(store.entries()[0]?.[1].readIops).toBe(100);
    // The next periodic poll measures from the last used sample (2 s), burst included.
    store.sample('v', counters(450, 0, 0), 4000);
    expect(store.entries()[0]?.[1].readIops).toBe(125);
  });
});
