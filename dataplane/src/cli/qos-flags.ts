/** The local tool's QoS flags: --iops-limit N, --bandwidth-limit BYTES_PER_SEC, ... */
import { parseLimitArg, type QosLimitField, type QosLimits, validateQosLimits } from '../qos/index.js';

export const QOS_FLAGS: Record<string, QosLimitField> = {
  'iops-limit': 'iops',
  'read-iops-limit': 'readIops',
  'write-iops-limit': 'writeIops',
  'bandwidth-limit': 'bandwidth',
  'read-bandwidth-limit': 'readBandwidth',
  'write-bandwidth-limit': 'writeBandwidth',
};

/** parseArgs options for the QoS flags. */
export const QOS_FLAG_OPTIONS = Object.fromEntries(
  [...Object.keys(QOS_FLAGS), 'burst-seconds'].map((f) => [f, { type: 'string' as const }]),
);

export const QOS_USAGE =
  '[--iops-limit N] [--read-iops-limit N] [--write-iops-limit N] [--bandwidth-limit BYTES_PER_SEC]\n' +
  '      [--read-bandwidth-limit B] [--write-bandwidth-limit B] [--burst-seconds S]   ("unlimited" clears one)';

/** True when any QoS flag was given. */
export function hasQosFlags(values: Record<string, unknown>): boolean {
  return [...Object.keys(QOS_FLAGS), 'burst-seconds'].some((f) => values[f] !== undefined);
}

/** The limits after applying the given flags to `current` (unset flags keep their value). */
export function applyQosFlags(current: QosLimits, values: Record<string, unknown>): QosLimits {
  const next: QosLimits = { ...current };
  for (const [flag, field] of Object.entries(QOS_FLAGS)) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    const limit = parseLimitArg(`--${flag}`, text);
    if (limit === undefined) delete next[field];
    else next[field] = limit;
  }
  const burst = values['burst-seconds'];
  if (typeof burst === 'string') {
    const n = Number(burst);
    if (burst.trim() === '' || !Number.isFinite(n) || n <= 0)
      throw new Error(`--burst-seconds must be a number above 0, got ${JSON.stringify(burst)}`);
    next.burstSeconds = n;
  }
  return validateQosLimits(next);
}

export function formatQos(limits: QosLimits): string {
  const parts = Object.entries(QOS_FLAGS)
    .filter(([, field]) => limits[field] !== undefined)
    .map(([flag, field]) => `${flag.replace(/-limit$/, '')} ${limits[field]}`);
  if (parts.length === 0) return 'no QoS limits';
  return `${parts.join(', ')}${limits.burstSeconds ? `, burst ${limits.burstSeconds} s` : ''}`;
}
