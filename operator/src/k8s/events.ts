/**
 * Kubernetes Events about Longhorn objects (what `kubectl describe` shows). The same reason and
 * message about one object is recorded once per minute at most, so a reconcile that repeats
 * does not flood the API server. Failing to record an event is logged, never fatal.
 */

import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { LONGHORN_API_VERSION, type Volume } from '@longhorn-ts/api';
import type { Logger } from 'pino';
import type { Clock } from '../runtime/clock.js';

export interface EventTarget {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

const REPEAT_MS = 60_000;

export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly recent = new Map<string, number>();

  constructor(
    kubeConfig: KubeConfig,
    private readonly component: string,
    private readonly host: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
  }

  record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const namespace = target.metadata.namespace ?? 'default';
    const key = `${target.kind}/${namespace}/${target.metadata.name}/${reason}/${message}`;
    const now = this.clock.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < REPEAT_MS) return;
    this.recent.set(key, now);
    if (this.recent.size > 5000) {
      for (const [k, t] of this.recent) if (now - t >= REPEAT_MS) this.recent.delete(k);
    }
    const stamp = new Date(now);
    const body = {
      metadata: { generateName: `${target.metadata.name}.`, namespace },
      involvedObject: {
        kind: target.kind,
        apiVersion: target.apiVersion,
        name: target.metadata.name,
        namespace,
        ...(target.metadata.uid !== undefined && { uid: target.metadata.uid }),
      },
      type,
      reason,
      message,
      source: { component: this.component, host: this.host },
      reportingComponent: this.component,
      reportingInstance: this.host,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      count: 1,
    };
    this.api.createNamespacedEvent({ namespace, body }).catch((err: unknown) => {
      this.log.debug({ err, reason }, 'could not record event');
    });
  }
}

/** Records an Event about a Volume (objects from the caches carry no apiVersion and kind). */
export function recordVolumeEvent(
  events: Pick<EventRecorder, 'record'>,
  volume: Volume,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): void {
  events.record({ ...volume, apiVersion: LONGHORN_API_VERSION, kind: 'Volume' }, type, reason, message);
}
