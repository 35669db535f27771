/**
 * QoS limits of a running engine follow Engine spec.qos: read them from the engine process,
 * replace them online when they differ (no reconnect of the frontend), and report them with
 * the time spent throttled for the Engine's status.
 */
import { sameQos, type VolumeQos, type VolumeQosStatus } from '@longhorn-ts/api';
import type { EngineClient } from '@longhorn-ts/dataplane/engine/engine-client';
import { formatQosArg } from '@longhorn-ts/dataplane/engine/qos-wire';
import type { Logger } from 'pino';

/** The engine process's `--qos` argument for the limits, none when there are none. */
export function engineQosArgs(qos: VolumeQos | undefined): string[] {
  const arg = formatQosArg(qos ?? {});
  return arg === '' ? [] : ['--qos', arg];
}

/** Brings the engine's limits to `wanted`; the status to record, or undefined if unreadable. */
export async function syncEngineQos(
  client: EngineClient,
  wanted: VolumeQos | undefined,
  log: Logger,
): Promise<VolumeQosStatus | undefined> {
  try {
    let stats = await client.qos();
    if (!sameQos(stats.limits, wanted)) {
      stats = await client.setQos(wanted ?? {});
      log.info({ qos: stats.limits }, 'engine QoS limits changed');
    }
    return {
      limits: stats.limits,
      throttledRequests: stats.throttledRequests,
      throttledMs: stats.throttledMs,
    };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'engine QoS limits not read or not changed');
    return undefined;
  }
}

/** A merge patch that turns `current` limits into `wanted` (null removes a limit, or all). */
export function qosMergePatch(
  current: VolumeQos | undefined,
  wanted: VolumeQos | undefined,
): Record<string, number | null> | null {
  if (wanted === undefined) return null;
  const patch: Record<string, number | null> = { ...wanted } as Record<string, number>;
  for (const k of Object.keys(current ?? {})) if (!(k in wanted)) patch[k] = null;
  return patch;
}
