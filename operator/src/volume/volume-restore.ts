/**
 * Restore from a backup, Longhorn's way (longhorn-manager volume_controller.go:
 * checkAndInitVolumeRestore, updateRequestedBackupForVolumeRestore, checkForAutoDetachment). A
 * Volume created with spec.fromBackup (`s3://bucket@region/path?backup=B&volume=V`) starts with
 * status.restoreRequired and restoreInitiated; a restore ticket (volume-restore-controller,
 * frontend disabled) attaches it on its owner's node, and every block of the backup is written
 * into one staged layer on each replica, committed at once, and the head reverted onto it. Then
 * restoreRequired turns false, the ticket goes, and the volume is an ordinary one.
 * A standby (DR) volume (spec.Standby) keeps the ticket and follows its backup volume: each newer
 * last backup is restored incrementally as a delta layer above the previous one (changed blocks
 * written, removed ones zeroed), the older layer folded into it afterwards. Setting spec.Standby
 * false (Longhorn's activation) restores the newest backup once more and finishes like a restore.
 * Until then only restore tickets may attach the volume.
 * Which backup the replicas hold is read from them, not remembered: the head sits on the layer
 * `restore-<backup>` once that backup is restored (restoreLayerName), so an operator restarted
 * mid-way finds where it was. Pure decisions here; controllers/restore-controller.ts does the I/O.
 */

import { attachmentTicketId } from '@longhorn-ts/api';
import { decodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';
import { parseGoDuration } from '../backup/go-duration.js';
import { AttacherType, type AttachmentTicket } from './attachment-tickets.js';

export interface RestoreSource {
  /** The backup target's URL (the backup URL without its backup and volume parameters). */
  targetUrl: string;
  /** The backup volume (the volume the backups were taken of). */
  backupVolume: string;
  /** '' when the URL names a backup volume only (a standby volume then starts from its last backup). */
  backup: string;
}

/** Parses spec.fromBackup; undefined for an empty one; a message for a malformed one. */
export function parseFromBackup(url: string | undefined): RestoreSource | string | undefined {
  if (!url) return undefined;
  try {
    const d = decodeBackupUrl(url);
    if (!d.volume) return `fromBackup ${JSON.stringify(url)} names no backup volume (&volume=NAME)`;
    return { targetUrl: d.targetUrl, backupVolume: d.volume, backup: d.backup };
  } catch (err) {
    return `fromBackup ${JSON.stringify(url)}: ${(err as Error).message}`;
  }
}

const LAYER_PREFIX = 'restore-';
const NAME_MAX = 63;

/** The layer a restore of `backup` commits on every replica (the head then sits on it). */
export function restoreLayerName(backup: string): string {
  return `${LAYER_PREFIX}${backup}`.slice(0, NAME_MAX);
}

/** The backup a restore layer holds, from its name; undefined for any other layer. */
export function backupOfLayer(layer: string, known: readonly string[] = []): string | undefined {
  if (!layer.startsWith(LAYER_PREFIX)) return undefined;
  // A name cut at 63 characters stands for the known backup it is the prefix of.
  const cut = layer.slice(LAYER_PREFIX.length);
  return known.find((b) => restoreLayerName(b) === layer) ?? (cut || undefined);
}

export function restoreTicketId(volume: string): string {
  return attachmentTicketId(AttacherType.volumeRestoreController, volume);
}

export interface RestoreVolumeLike {
  spec: { fromBackup?: string; Standby?: boolean };
  status?: { restoreRequired?: boolean; restoreInitiated?: boolean; isStandby?: boolean };
}

/**
 * Is the volume held for its restore (not attachable for workloads)? From creation with
 * fromBackup until the restore (or, for a standby volume, its activation) has completed.
 */
export function heldForRestore(v: RestoreVolumeLike): boolean {
  if (!v.spec.fromBackup) return false;
  const s = v.status ?? {};
  // spec.Standby counts through status.isStandby only: set again on an activated volume it
  // must not take the volume away from its workload.
  return !s.restoreInitiated || !!s.restoreRequired || !!s.isStandby;
}

/** While held for its restore, only restore tickets count (a CSI ticket waits). */
export function ticketsWhileRestoring<T extends Pick<AttachmentTicket, 'type'>>(
  tickets: Readonly<Record<string, T>>,
  held: boolean,
): Record<string, T> {
  if (!held) return { ...tickets };
  return Object.fromEntries(
    Object.entries(tickets).filter(([, t]) => t.type === AttacherType.volumeRestoreController),
  );
}

/** What the backup target said about the backup volume, or why it could not be read. */
export type TargetFacts =
  | {
      ok: true;
      /** The backup volume's size in bytes (volume.cfg Size). */
      size: number;
      /** volume.cfg LastBackupName: the newest complete backup ('' when none). */
      lastBackup: string;
      /** The backup to restore exists and is complete (checked when the URL names one). */
      backupFound: boolean;
    }
  | { ok: false; message: string; permanent: boolean };

/** A restore run by this operator (in memory: an operator restart forgets it and starts over). */
export interface RestoreJobFacts {
  backup: string;
  /** The backup the replicas held before (an incremental restore), '' for a full one. */
  from: string;
  state: 'running' | 'done' | 'failed';
  percent: number;
  error: string;
  /** The failure will not go away by trying again (no such backup, wrong key, corrupt block). */
  permanent: boolean;
  attempts: number;
  finishedAt: number;
}

/** One snapshot layer of the replicas (not the head, not a removed one). */
export interface ChainLayer {
  name: string;
  parent: string;
  /** false for the system snapshots a rebuild takes (they hold nothing on a volume no one writes). */
  userCreated: boolean;
}

/** The layers under the head, nearest first. */
export function ancestry(chain: { headParent: string; layers: readonly ChainLayer[] }): ChainLayer[] {
  const byName = new Map(chain.layers.map((l) => [l.name, l]));
  const out: ChainLayer[] = [];
  for (let l = byName.get(chain.headParent); l !== undefined && !out.includes(l); l = byName.get(l.parent))
    out.push(l);
  return out;
}

export interface RestoreFacts {
  now: number;
  volume: {
    name: string;
    fromBackup?: string;
    /** spec.Standby. */
    standby: boolean;
    /** spec.size in bytes, 0 when unset. */
    size: number;
    deleting: boolean;
    restoreRequired: boolean;
    restoreInitiated: boolean;
    isStandby: boolean;
    lastBackup: string;
    /** The message of a Restore condition with reason RestoreFailure, '' otherwise. */
    failure: string;
  };
  target?: TargetFacts;
  ticket: boolean;
  /** The restore ticket names another node (an owner that went away): it moves to this one. */
  ticketElsewhere?: boolean;
  /** Attached on this node with its engine running here (the replicas are reachable). */
  ready: boolean;
  /** A replica is being rebuilt (WO): it would miss a layer staged meanwhile. */
  rebuilding?: boolean;
  /** The replicas' chain, as the engine lists it: the layer under the head and every other. */
  chain?: { headParent: string; layers: ChainLayer[] };
  /** Why the engine of a ready volume could not list the chain (a replica that does not answer). */
  chainError?: string;
  job?: RestoreJobFacts;
  /** How often a standby volume looks for a newer backup. */
  pollMs: number;
}

export type RestoreStep =
  | { kind: 'none' }
  | { kind: 'release' }
  | { kind: 'readTarget' }
  | { kind: 'fail'; message: string; terminal: boolean }
  | { kind: 'setSize'; size: number }
  | {
      kind: 'initiate';
      status: { restoreRequired: true; restoreInitiated: true; isStandby: boolean; lastBackup: string };
    }
  | { kind: 'addTicket' }
  | { kind: 'wait'; reason: string; pollMs: number; progress?: { backup: string; percent: number } }
  | { kind: 'start'; backup: string; from: string; layer: string; parent: string | null }
  | { kind: 'revert'; layer: string; backup: string }
  | { kind: 'fold'; layers: string[] }
  | { kind: 'following'; backup: string; pollMs: number }
  | { kind: 'finish'; backup: string };

/** A failed restore of a plain (not standby) volume is tried this many times in all. */
export const MAX_RESTORE_ATTEMPTS = 3;
export const RETRY_BASE_MS = 5_000;
const POLL_RUNNING_MS = 1_000;

/** The backup a restore is after right now. */
export function wantedBackup(f: RestoreFacts, src: RestoreSource): string {
  const following = f.volume.standby || f.volume.isStandby;
  if (following && f.target?.ok && f.target.lastBackup) return f.target.lastBackup;
  return src.backup || f.volume.lastBackup;
}

export function restoreStep(f: RestoreFacts): RestoreStep {
  const v = f.volume;
  const release: RestoreStep = f.ticket ? { kind: 'release' } : { kind: 'none' };
  const src = parseFromBackup(v.fromBackup);
  if (src === undefined || v.deleting) return release;
  const held = heldForRestore({
    spec: { fromBackup: v.fromBackup ?? '', Standby: v.standby },
    status: {
      restoreRequired: v.restoreRequired,
      restoreInitiated: v.restoreInitiated,
      isStandby: v.isStandby,
    },
  });
  if (!held) return release;
  const following = v.standby || v.isStandby;
  // A plain restore that failed stays failed: the volume holds nothing usable (delete it).
  if (v.failure && !following) return release;
  if (typeof src === 'string') return fail(v.failure, src, true);

  if (f.target === undefined) return { kind: 'readTarget' };
  const t = f.target;
  if (!t.ok) {
    if (t.permanent) return fail(v.failure, t.message, !following, f.pollMs);
    return {
      kind: 'wait',
      reason: `the backup target: ${t.message}`,
      pollMs: following ? f.pollMs : RETRY_BASE_MS,
    };
  }
  const wanted = wantedBackup(f, src);
  if (!wanted)
    return fail(
      v.failure,
      `backup volume ${src.backupVolume} has no backup to restore yet`,
      !following,
      f.pollMs,
    );
  if (src.backup && !v.restoreInitiated && !t.backupFound)
    return fail(v.failure, `backup ${src.backup} of volume ${src.backupVolume} not found`, true);

  if (!v.restoreInitiated) {
    // Longhorn's UI and CSI give the size at creation; a Volume applied without one gets the
    // backup volume's size (the webhook lets exactly this change through).
    if (v.size === 0) return { kind: 'setSize', size: t.size };
    if (v.size < t.size)
      return fail(
        v.failure,
        `spec.size ${v.size} is smaller than the backup's volume size ${t.size}: a restored volume must hold the whole backup`,
        true,
      );
    return {
      kind: 'initiate',
      status: { restoreRequired: true, restoreInitiated: true, isStandby: v.standby, lastBackup: wanted },
    };
  }

  // Longhorn detaches a restoring volume whose node went down and attaches it again to restart.
  if (!f.ticket || f.ticketElsewhere) return { kind: 'addTicket' };
  if (!f.ready) return { kind: 'wait', reason: `volume ${v.name} to attach for its restore`, pollMs: 2_000 };
  // Attached, but the engine cannot say what the replicas hold: that is what is awaited (a frozen
  // replica, say), and "to attach" would send whoever reads the condition after the wrong thing.
  if (f.chain === undefined)
    return {
      kind: 'wait',
      reason: `the engine of volume ${v.name} to answer${f.chainError ? ` (${f.chainError})` : ''}`,
      pollMs: 2_000,
    };

  const job = f.job;
  if (job?.state === 'running')
    return {
      kind: 'wait',
      reason: `the restore of ${job.backup} (${job.percent}%)`,
      pollMs: POLL_RUNNING_MS,
      progress: { backup: job.backup, percent: job.percent },
    };

  const layer = restoreLayerName(wanted);
  const known = [wanted, src.backup, v.lastBackup, job?.backup ?? '', job?.from ?? ''].filter(Boolean);
  // The restore the head sits on: the nearest restore layer under it (a rebuild of a standby
  // volume puts an empty system snapshot between the two).
  const below = ancestry(f.chain);
  const at = below.findIndex((l) => backupOfLayer(l.name) !== undefined);
  const current = at < 0 ? undefined : backupOfLayer(below[at]!.name, known);
  if (current === wanted) {
    // What an incremental restore left: the restores under the current one, and layers off the
    // head's line (a restore layer committed but never reverted onto).
    const line = new Set(below.slice(0, at + 1).map((l) => l.name));
    const older = f.chain.layers.map((l) => l.name).filter((n) => !line.has(n));
    if (older.length > 0) return { kind: 'fold', layers: older };
    if (!v.standby) return { kind: 'finish', backup: wanted };
    return { kind: 'following', backup: wanted, pollMs: f.pollMs };
  }
  // Committed on the replicas but the head not yet moved onto it (stopped between the two).
  if (f.chain.layers.some((l) => l.name === layer)) return { kind: 'revert', layer, backup: wanted };

  if (job?.state === 'failed' && job.backup === wanted) {
    const attemptsLeft = following || job.attempts < MAX_RESTORE_ATTEMPTS;
    if (job.permanent || !attemptsLeft)
      return fail(v.failure, `restore of backup ${wanted} failed: ${job.error}`, !following, f.pollMs);
    const backoff = following ? f.pollMs : RETRY_BASE_MS * 2 ** (job.attempts - 1);
    const retryAt = job.finishedAt + backoff;
    if (retryAt > f.now)
      return { kind: 'wait', reason: `the next attempt (${job.error})`, pollMs: retryAt - f.now };
  }

  if (f.rebuilding)
    return { kind: 'wait', reason: 'the replica rebuild to finish before restoring', pollMs: 2_000 };
  if (current === undefined) {
    // A fresh volume: nothing under the head (a layer left by anyone else is not ours to cover).
    const foreign = f.chain.layers
      .filter((l) => l.userCreated && backupOfLayer(l.name) === undefined)
      .map((l) => l.name);
    if (foreign.length > 0)
      return fail(
        v.failure,
        `volume ${v.name} already holds snapshot(s) ${foreign.join(', ')}: a restore fills only a new volume`,
        !following,
        f.pollMs,
      );
    return { kind: 'start', backup: wanted, from: '', layer, parent: null };
  }
  return { kind: 'start', backup: wanted, from: current, layer, parent: f.chain.headParent };
}

/**
 * Fails once: a failure already reported with the same message is not reported again. A
 * standby volume's failure is not the end: it looks at its backups again after a poll interval.
 */
function fail(reported: string, message: string, terminal: boolean, pollMs = 0): RestoreStep {
  if (reported !== message) return { kind: 'fail', message, terminal };
  return terminal ? { kind: 'none' } : { kind: 'wait', reason: message, pollMs };
}

/**
 * A BackupTarget pollInterval (a Go duration such as `5m0s`, `30s`, `1h`, `500ms`) in ms;
 * `0s` means no polling (undefined), a missing or malformed one the default.
 */
export function pollIntervalMs(interval: string | undefined, fallbackMs = 300_000): number | undefined {
  if (interval === undefined || interval.trim() === '') return fallbackMs;
  let ms: number;
  try {
    ms = parseGoDuration(interval);
  } catch {
    return fallbackMs;
  }
  return ms === 0 ? undefined : ms;
}
