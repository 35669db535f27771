/**
 * Volume clone, Longhorn's way (controller/volume_controller.go's clone handling and
 * volume_clone_controller.go): a Volume with spec.dataSource (`vol://<volume>` or
 * `snap://<volume>/<snapshot>`) starts empty and is filled once from the source. Its cloneStatus
 * goes '' -> initiated -> completed | failed. While initiated, clone tickets attach the source
 * and the new volume on one node, a `vol://` source first gets a fresh snapshot, and the new
 * volume's engine copies the snapshot from a healthy source replica (engine SnapshotClone).
 * Until completed the new volume is held: only clone tickets may attach it.
 * Pure decisions here; the controller (controllers/clone-controller.ts) does the I/O.
 */

import { attachmentTicketId, type VolumeCloneStatus } from '@longhorn-ts/api';
import { AttacherType, type AttachmentTicket } from './attachment-tickets.js';

export interface DataSource {
  sourceVolume: string;
  /** Absent for `vol://`: the clone takes a fresh snapshot of the source. */
  snapshot?: string;
}

/** Parses spec.dataSource; undefined for an empty one; a message for a malformed one. */
export function parseDataSource(ds: string | undefined): DataSource | string | undefined {
  if (!ds) return undefined;
  const vol = /^vol:\/\/([^/]+)$/.exec(ds);
  if (vol) return { sourceVolume: vol[1]! };
  const snap = /^snap:\/\/([^/]+)\/([^/]+)$/.exec(ds);
  if (snap) return { sourceVolume: snap[1]!, snapshot: snap[2]! };
  return `dataSource ${JSON.stringify(ds)} is neither vol://<volume> nor snap://<volume>/<snapshot>`;
}

const NAME_MAX = 63;
const trimName = (s: string) => s.slice(0, NAME_MAX).replace(/[-.]+$/, '');

/** The snapshot a `vol://` clone takes of its source (one per new volume, so retries reuse it). */
export function sourceSnapshotName(target: string): string {
  return trimName(`clone-src-${target}`);
}

/** The one layer the new volume's replicas receive (named for the new volume: no CR clash). */
export function cloneLayerName(target: string): string {
  return trimName(`clone-${target}`);
}

export function cloneTicketId(target: string): string {
  return attachmentTicketId(AttacherType.volumeCloneController, target);
}

/** The new volume a clone ticket was filed for (any volume's VolumeAttachment may hold one). */
export function cloneTargetOfTicket(t: { id?: string; type?: string }): string | undefined {
  const prefix = `${AttacherType.volumeCloneController}-`;
  if (t.type !== AttacherType.volumeCloneController || !t.id?.startsWith(prefix)) return undefined;
  return t.id.slice(prefix.length) || undefined;
}

/** Is the volume held for its clone (not attachable for workloads)? */
export function heldForClone(v: {
  spec: { dataSource?: string };
  status?: { cloneStatus?: VolumeCloneStatus };
}) {
  return !!v.spec.dataSource && v.status?.cloneStatus?.state !== 'completed';
}

/**
 * The tickets arbitration may consider: while the volume is held for its clone, only clone
 * tickets (a CSI or API ticket filed meanwhile waits until the copy is complete).
 */
export function ticketsWhileHeld<T extends Pick<AttachmentTicket, 'type'>>(
  tickets: Readonly<Record<string, T>>,
  held: boolean,
): Record<string, T> {
  if (!held) return { ...tickets };
  return Object.fromEntries(
    Object.entries(tickets).filter(([, t]) => t.type === AttacherType.volumeCloneController),
  );
}

/** What the engine's clone job reports (dataplane engine-client's CloneStatus). */
export interface EngineCloneJob {
  state: 'idle' | 'running' | 'done' | 'failed' | string;
  snapshot: string;
  layer: string;
  fromReplicaId: string;
  error: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface CloneFacts {
  now: number;
  target: {
    name: string;
    dataSource?: string;
    cloneStatus?: VolumeCloneStatus;
    deleting: boolean;
    /** The new volume is attached on `node` and its engine runs there. */
    ready: boolean;
  };
  source?: { deleting: boolean; node: string };
  /** The Snapshot CR named in cloneStatus.snapshot (or the one to clone), if any. */
  snapshot?: { volume: string; readyToUse: boolean; error: string; taken: boolean };
  tickets: { source: boolean; target: boolean };
  /** A healthy (RW) replica of the source's running engine. */
  sourceReplica?: { address: string; id: string };
  /** The new volume's engine's clone job, when its engine runs. */
  job?: EngineCloneJob;
}

export type CloneStep =
  | { kind: 'none' }
  | { kind: 'release' }
  | { kind: 'initiate'; status: VolumeCloneStatus }
  | { kind: 'fail'; message: string }
  | { kind: 'addTickets' }
  | { kind: 'takeSnapshot'; volume: string; name: string }
  | { kind: 'wait'; reason: string; pollMs?: number }
  | {
      kind: 'startClone';
      fromAddress: string;
      fromReplicaId: string;
      snapshot: string;
      layer: string;
      /** cloneStatus with this attempt counted, written before the engine is asked. */
      status: VolumeCloneStatus;
    }
  | { kind: 'complete' };

/** A copy is tried this many times, each next attempt after a doubling back-off from RETRY_BASE_MS. */
export const MAX_CLONE_ATTEMPTS = 3;
export const RETRY_BASE_MS = 5_000;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function cloneStep(f: CloneFacts): CloneStep {
  const t = f.target;
  const ds = parseDataSource(t.dataSource);
  const state = t.cloneStatus?.state ?? '';
  if (ds === undefined) return f.tickets.source || f.tickets.target ? { kind: 'release' } : { kind: 'none' };
  if (t.deleting || state === 'completed' || state === 'failed')
    return f.tickets.source || f.tickets.target ? { kind: 'release' } : { kind: 'none' };
  if (typeof ds === 'string') return { kind: 'fail', message: ds };
  if (state === '') {
    return {
      kind: 'initiate',
      status: {
        sourceVolume: ds.sourceVolume,
        snapshot: ds.snapshot ?? sourceSnapshotName(t.name),
        state: 'initiated',
        attemptCount: 0,
        nextAllowedAttemptAt: '',
      },
    };
  }
  const cs = t.cloneStatus!;
  const sourceVolume = cs.sourceVolume || ds.sourceVolume;
  const snapshot = cs.snapshot || ds.snapshot || sourceSnapshotName(t.name);
  if (f.source === undefined || f.source.deleting)
    return { kind: 'fail', message: `source volume ${sourceVolume} not found` };
  if (f.snapshot !== undefined && f.snapshot.volume !== sourceVolume)
    return {
      kind: 'fail',
      message: `snapshot ${snapshot} belongs to volume ${f.snapshot.volume}, not ${sourceVolume}`,
    };
  if (f.snapshot === undefined && ds.snapshot !== undefined)
    return { kind: 'fail', message: `snapshot ${snapshot} of volume ${sourceVolume} not found` };
  if (!f.tickets.source || !f.tickets.target) return { kind: 'addTickets' };
  if (f.snapshot === undefined) return { kind: 'takeSnapshot', volume: sourceVolume, name: snapshot };
  if (!f.snapshot.readyToUse) {
    if (f.snapshot.taken && f.snapshot.error)
      return { kind: 'fail', message: `snapshot ${snapshot} of volume ${sourceVolume}: ${f.snapshot.error}` };
    return { kind: 'wait', reason: `snapshot ${snapshot} of volume ${sourceVolume} to be ready` };
  }
  if (!t.ready) return { kind: 'wait', reason: `volume ${t.name} to attach for its clone` };
  if (f.sourceReplica === undefined)
    return { kind: 'wait', reason: `a healthy replica of volume ${sourceVolume} to serve` };
  const layer = cloneLayerName(t.name);
  const job = f.job;
  const ours = job !== undefined && job.snapshot === snapshot && job.layer === layer;
  if (ours && job.state === 'done') return { kind: 'complete' };
  if (ours && job.state === 'running')
    return { kind: 'wait', reason: `the copy (${job.bytesDone}/${job.bytesTotal} bytes)`, pollMs: 1_000 };
  const attempts = cs.attemptCount ?? 0;
  const notBefore = Date.parse(cs.nextAllowedAttemptAt ?? '');
  if (!Number.isNaN(notBefore) && notBefore > f.now)
    return { kind: 'wait', reason: 'the next attempt', pollMs: notBefore - f.now };
  if (attempts >= MAX_CLONE_ATTEMPTS)
    return {
      kind: 'fail',
      message:
        ours && job.state === 'failed'
          ? `the copy failed ${attempts} times, last: ${job.error}`
          : `the copy did not complete in ${attempts} attempts (the engine reports ${job?.state ?? 'nothing'})`,
    };
  // Each start counts as an attempt (an engine that restarted mid-copy knows of no job: the
  // copy is started again) and sets when the next one may follow.
  return {
    kind: 'startClone',
    fromAddress: f.sourceReplica.address,
    fromReplicaId: f.sourceReplica.id,
    snapshot,
    layer,
    status: {
      ...cs,
      sourceVolume,
      snapshot,
      attemptCount: attempts + 1,
      nextAllowedAttemptAt: iso(f.now + RETRY_BASE_MS * 2 ** attempts),
    },
  };
}
