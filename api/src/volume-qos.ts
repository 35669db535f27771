/**
 * QoS limits of a volume (a longhorn-ts extension; Longhorn has none): operations and bytes per
 * second for reads, writes, or both together, with a burst allowance. A field left out means
 * no limit; a present one is at least 1. Set on the Volume (or by StorageClass parameters), the
 * operator hands them to the Engine, whose process changes them online.
 */
import { int, obj } from './schema/builders.js';

export interface VolumeQos {
  /** Operations per second, reads and writes together. */
  iops?: number;
  readIops?: number;
  writeIops?: number;
  /** Bytes per second, reads and writes together. */
  bandwidth?: number;
  readBandwidth?: number;
  writeBandwidth?: number;
  /** Seconds' worth of operations and bytes an idle volume may spend at once (default 1). */
  burstSeconds?: number;
}

export interface VolumeQosStatus {
  /** The limits the engine applies now. */
  limits?: VolumeQos;
  /** Requests that had to wait for the limits, since the engine started. */
  throttledRequests?: number;
  /** Milliseconds requests spent waiting, since the engine started. */
  throttledMs?: number;
}

const limit = () => int({ min: 1, format: 'int64' });

export const volumeQosSchema = obj({
  iops: limit(),
  readIops: limit(),
  writeIops: limit(),
  bandwidth: limit(),
  readBandwidth: limit(),
  writeBandwidth: limit(),
  burstSeconds: int({ min: 1, max: 60 }),
});

export const volumeQosStatusSchema = obj({
  limits: volumeQosSchema,
  throttledRequests: int({ min: 0, format: 'int64' }),
  throttledMs: int({ min: 0, format: 'int64' }),
});

/** Longhorn-style StorageClass parameters for the limits (strings of decimal digits). */
export const QOS_STORAGE_CLASS_PARAMETERS = {
  iopsLimit: 'iops',
  readIopsLimit: 'readIops',
  writeIopsLimit: 'writeIops',
  bandwidthLimit: 'bandwidth',
  readBandwidthLimit: 'readBandwidth',
  writeBandwidthLimit: 'writeBandwidth',
  qosBurstSeconds: 'burstSeconds',
} as const satisfies Record<string, keyof VolumeQos>;

/** Two limit sets are the same when every field is (absent equals absent). */
export function sameQos(a: VolumeQos | undefined, b: VolumeQos | undefined): boolean {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]) as Set<keyof VolumeQos>;
  for (const k of keys) if ((a?.[k] ?? undefined) !== (b?.[k] ?? undefined)) return false;
  return true;
}

const QOS_KEYS = [
  'iops',
  'readIops',
  'writeIops',
  'bandwidth',
  'readBandwidth',
  'writeBandwidth',
  'burstSeconds',
] as const;

/**
 * The Setting default-volume-qos: `iops=1000,writeBandwidth=10485760` (the spec.qos field
 * names, positive integers, burstSeconds 1..60); empty means no default limits. Returns the
 * limits, or a phrase saying what is wrong.
 */
export function parseQosSetting(value: string): { qos: VolumeQos } | { problem: string } {
  const qos: Record<string, number> = {};
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const [key = '', text = '', ...extra] = part.split('=').map((x) => x.trim());
    if (!(QOS_KEYS as readonly string[]).includes(key))
      return { problem: `"${key}" is not a QoS limit (known: ${QOS_KEYS.join(', ')})` };
    const n = Number(text);
    const max = key === 'burstSeconds' ? 60 : Number.MAX_SAFE_INTEGER;
    if (extra.length > 0 || !/^\d+$/.test(text) || n < 1 || n > max)
      return { problem: `${key}=${text}: a QoS limit is an integer from 1 to ${max}` };
    if (key in qos) return { problem: `${key} is given twice` };
    qos[key] = n;
  }
  return { qos: qos as VolumeQos };
}
