/**
 * Per-volume QoS limits: operations and bytes per second, for reads, for writes, or for both
 * together, with a burst allowance. An absent field is "no limit"; a present one is a positive
 * integer (0 or a negative number is a mistake, not a way to say unlimited).
 */

export const QOS_LIMIT_FIELDS = [
  'iops',
  'readIops',
  'writeIops',
  'bandwidth',
  'readBandwidth',
  'writeBandwidth',
] as const;
export type QosLimitField = (typeof QOS_LIMIT_FIELDS)[number];

export interface QosLimits {
  /** Operations per second, reads and writes together. */
  iops?: number;
  readIops?: number;
  writeIops?: number;
  /** Bytes per second, reads and writes together. */
  bandwidth?: number;
  readBandwidth?: number;
  writeBandwidth?: number;
  /** How many seconds' worth of operations and bytes an idle volume may spend at once (default 1). */
  burstSeconds?: number;
}

export const DEFAULT_BURST_SECONDS = 1;
const MAX_BURST_SECONDS = 60;

export class QosLimitError extends Error {
  override readonly name = 'QosLimitError';
}

/** Checks every field; throws a QosLimitError that names the first bad one. */
export function validateQosLimits(limits: QosLimits): QosLimits {
  const out: QosLimits = {};
  for (const [key, value] of Object.entries(limits) as [keyof QosLimits, unknown][]) {
    if (value === undefined) continue;
    if (key === 'burstSeconds') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_BURST_SECONDS)
        throw new QosLimitError(
          `burstSeconds must be a number above 0 and at most ${MAX_BURST_SECONDS}, got ${String(value)}`,
        );
      out.burstSeconds = value;
      continue;
    }
    if (!(QOS_LIMIT_FIELDS as readonly string[]).includes(key))
      throw new QosLimitError(
        `unknown QoS limit ${JSON.stringify(key)} (known: ${QOS_LIMIT_FIELDS.join(', ')}, burstSeconds)`,
      );
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
      throw new QosLimitError(
        `${key} limit must be a positive integer (leave it out for no limit), got ${String(value)}`,
      );
    out[key] = value;
  }
  return out;
}

export function hasLimits(limits: QosLimits): boolean {
  return QOS_LIMIT_FIELDS.some((f) => limits[f] !== undefined);
}

/** "1000" -> 1000; "unlimited"/"none" -> undefined; anything else is refused with the flag named. */
export function parseLimitArg(flag: string, text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'unlimited' || t === 'none') return undefined;
  if (!/^\d+$/.test(t) || Number(t) <= 0 || !Number.isSafeInteger(Number(t)))
    throw new QosLimitError(`${flag} must be a positive integer or "unlimited", got ${JSON.stringify(text)}`);
  return Number(t);
}
