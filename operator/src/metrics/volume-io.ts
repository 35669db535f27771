/**
 * Volume I/O rates for the metrics, from the engine's frontend counters: the engine controller
 * samples each engine it runs on every poll; a rate is the difference of two samples over their
 * time apart. Polls also come from watch events, sometimes 100 ms apart: a rate over so short a
 * window is mostly timing noise (the RPC's own latency) and holds a QoS burst at several times
 * the limit, so a sample closer than `minWindowMs` to the last one is not used. Kept in memory by the operator that runs the engine (never in a CR:
 * that would be a status write every poll).
 */
import type { IoCounters } from '@longhorn-ts/dataplane/frontend/io-stats-device';

export interface VolumeIoRates {
  readThroughput: number;
  writeThroughput: number;
  readIops: number;
  writeIops: number;
  /** Mean completion time over the interval, ns (0 without I/O). */
  readLatency: number;
  writeLatency: number;
}

interface Sample {
  at: number;
  c: IoCounters;
}

export function ioRates(prev: Sample, next: Sample): VolumeIoRates {
  const dt = (next.at - prev.at) / 1000;
  const d = (k: keyof IoCounters) => Math.max(0, next.c[k] - prev.c[k]);
  const per = (k: keyof IoCounters) => (dt > 0 ? d(k) / dt : 0);
  return {
    readThroughput: per('readBytes'),
    writeThroughput: per('writeBytes'),
    readIops: per('readOps'),
    writeIops: per('writeOps'),
    readLatency: d('readOps') > 0 ? d('readLatencyNs') / d('readOps') : 0,
    writeLatency: d('writeOps') > 0 ? d('writeLatencyNs') / d('writeOps') : 0,
  };
}

/** Just under the engine controller's 2 s monitor period, so every periodic poll counts. */
export const MIN_RATE_WINDOW_MS = 1_900;

export class VolumeIoStore {
  private readonly last = new Map<string, Sample>();
  private readonly rates = new Map<string, VolumeIoRates>();

  constructor(private readonly minWindowMs = MIN_RATE_WINDOW_MS) {}

  /** Records a sample of `volume`'s counters; a restarted engine (counters went back) starts over. */
  sample(volume: string, counters: IoCounters, at: number): void {
    const prev = this.last.get(volume);
    const next = { at, c: counters };
    const restarted =
      prev !== undefined && (counters.readOps < prev.c.readOps || counters.writeOps < prev.c.writeOps);
    if (prev !== undefined && !restarted && at - prev.at < this.minWindowMs) return;
    this.last.set(volume, next);
    if (!prev || restarted) {
      this.rates.delete(volume);
      return;
    }
    this.rates.set(volume, ioRates(prev, next));
  }

  /** The volume's engine stopped here. */
  forget(volume: string): void {
    this.last.delete(volume);
    this.rates.delete(volume);
  }

  entries(): [string, VolumeIoRates][] {
    return [...this.rates];
  }
}

/** The operator process's store: the engine controller writes it, the metrics endpoint reads it. */
export const volumeIoStore = new VolumeIoStore();
