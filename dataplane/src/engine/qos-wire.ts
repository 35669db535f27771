/** QoS limits on the engine's control service: 0 on the wire is "no limit". */
import { QOS_LIMIT_FIELDS, type QosLimits, type QosStats } from '../qos/index.js';

export type WireQosLimits = Record<(typeof QOS_LIMIT_FIELDS)[number], number> & { burstSeconds: number };
export interface WireQos {
  limits: WireQosLimits;
  throttledRequests: number;
  throttledMs: number;
  queued: number;
}

export function qosLimitsToWire(limits: QosLimits): WireQosLimits {
  const wire = { burstSeconds: limits.burstSeconds ?? 0 } as WireQosLimits;
  for (const f of QOS_LIMIT_FIELDS) wire[f] = limits[f] ?? 0;
  return wire;
}

export function qosLimitsFromWire(wire: Partial<WireQosLimits> | undefined): QosLimits {
  const limits: QosLimits = {};
  for (const f of QOS_LIMIT_FIELDS) {
    const v = Number(wire?.[f] ?? 0);
    if (v > 0) limits[f] = v;
  }
  if (wire?.burstSeconds) limits.burstSeconds = Number(wire.burstSeconds);
  return limits;
}

export function qosToWire(stats: QosStats): WireQos {
  return {
    limits: qosLimitsToWire(stats.limits),
    throttledRequests: stats.throttledRequests,
    throttledMs: stats.throttledMs,
    queued: stats.queued,
  };
}

export function qosFromWire(wire: WireQos): QosStats {
  return {
    limits: qosLimitsFromWire(wire.limits),
    throttledRequests: Number(wire.throttledRequests),
    throttledMs: Number(wire.throttledMs),
    queued: Number(wire.queued),
  };
}

/** `--qos iops=1000,writeBandwidth=10485760,burstSeconds=2` (the engine process's argument). */
export function parseQosArg(text: string): QosLimits {
  const limits: Record<string, number> = {};
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const [key, value, ...extra] = part.split('=');
    if (
      !key ||
      value === undefined ||
      extra.length > 0 ||
      value.trim() === '' ||
      !Number.isFinite(Number(value))
    )
      throw new Error(`--qos: expected KEY=NUMBER[,KEY=NUMBER...], got ${JSON.stringify(part)}`);
    limits[key.trim()] = Number(value);
  }
  return limits as QosLimits;
}

export function formatQosArg(limits: QosLimits): string {
  return Object.entries(limits)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
