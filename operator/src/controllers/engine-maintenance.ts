/**
 * Maintenance mode on a running engine: its frontend follows spec.disableFrontend (the engine
 * process always starts serving NBD, so a volume attached with the frontend disabled has it
 * stopped here), and a snapshot revert asked for on the Engine CR (api/snapshot-revert.ts) is
 * carried out only then, as Longhorn's engine reverts only with the frontend down and no
 * rebuild running. The answer goes into the result annotation with the request's id.
 */

import {
  type Engine,
  parseRevertRequest,
  SNAPSHOT_REVERT_REQUEST_ANNOTATION,
  SNAPSHOT_REVERT_RESULT_ANNOTATION,
  type SnapshotRevertRequest,
  type SnapshotRevertResult,
} from '@longhorn-ts/api';
import type { EngineClient, VolumeView } from '@longhorn-ts/dataplane/engine/engine-client';
import type { Logger } from 'pino';
import { rfc3339 } from '../conditions.js';
import { KINDS } from '../k8s/kinds.js';
import type { ControllerContext } from './context.js';

/** What to do with the running engine's frontend (pure). */
export function frontendChange(disableFrontend: boolean, endpoint: string): 'stop' | 'start' | undefined {
  if (disableFrontend && endpoint !== '') return 'stop';
  if (!disableFrontend && endpoint === '') return 'start';
  return undefined;
}

/** Why a revert cannot run now (pure); undefined when it can. */
export function revertRefusal(
  request: SnapshotRevertRequest,
  facts: { volume: string; disableFrontend: boolean; view: VolumeView; snapshots: readonly string[] },
): string | undefined {
  const { volume, view } = facts;
  if (!facts.disableFrontend || view.frontend !== '') {
    return `volume ${volume} is attached with its frontend: revert only in maintenance mode (attached with the frontend disabled)`;
  }
  if (view.replicas.some((r) => r.mode === 'WO' || r.rebuilding)) {
    return `volume ${volume} is rebuilding a replica: revert once the rebuild is done`;
  }
  if (!facts.snapshots.includes(request.snapshot)) {
    return `volume ${volume} has no snapshot ${request.snapshot}`;
  }
  return undefined;
}

/** The merge patch that answers a request and withdraws it. */
export function revertAnswerPatch(result: SnapshotRevertResult): Record<string, unknown> {
  return {
    metadata: {
      annotations: {
        [SNAPSHOT_REVERT_REQUEST_ANNOTATION]: null,
        [SNAPSHOT_REVERT_RESULT_ANNOTATION]: JSON.stringify(result),
      },
    },
  };
}

/**
 * Bring the frontend in line and carry out a pending revert. Returns the engine's view after
 * that, and whether the Engine CR was written (its cached copy is then stale).
 */
export async function maintainEngine(
  ctx: ControllerContext,
  e: Engine,
  client: EngineClient,
  view: VolumeView,
  log: Logger,
): Promise<{ view: VolumeView; wrote: boolean }> {
  let v = view;
  const disable = e.spec.disableFrontend === true;
  const change = frontendChange(disable, v.frontend);
  if (change !== undefined) {
    try {
      v = change === 'stop' ? await client.frontendStop() : await client.frontendStart();
      log.info(change === 'stop' ? 'frontend stopped (maintenance mode)' : 'frontend started');
    } catch (err) {
      log.warn({ err: (err as Error).message }, `frontend ${change} failed`);
    }
  }

  const request = parseRevertRequest(e.metadata.annotations);
  if (request === undefined) return { view: v, wrote: false };
  let error = '';
  try {
    const snapshots = (await client.snapshotList()).filter((s) => !s.head && !s.removed).map((s) => s.name);
    const refusal = revertRefusal(request, {
      volume: e.spec.volumeName ?? '',
      disableFrontend: disable,
      view: v,
      snapshots,
    });
    if (refusal !== undefined) error = refusal;
    else {
      v = await client.snapshotRevert(request.snapshot);
      log.info({ snapshot: request.snapshot }, 'volume reverted to the snapshot');
    }
  } catch (err) {
    error = `revert to ${request.snapshot} failed: ${(err as Error).message}`;
  }
  if (error !== '') log.warn({ snapshot: request.snapshot, err: error }, 'revert refused');
  const result: SnapshotRevertResult = { ...request, error, doneAt: rfc3339(ctx.clock.now()) };
  await ctx.client.patch(KINDS.engine, e.metadata.name, revertAnswerPatch(result));
  ctx.events.record(
    { ...e, apiVersion: e.apiVersion ?? 'longhorn.io/v1beta2', kind: 'Engine' },
    error === '' ? 'Normal' : 'Warning',
    error === '' ? 'SnapshotReverted' : 'SnapshotRevertFailed',
    error === '' ? `volume ${e.spec.volumeName ?? ''} reverted to snapshot ${request.snapshot}` : error,
  );
  return { view: v, wrote: true };
}
