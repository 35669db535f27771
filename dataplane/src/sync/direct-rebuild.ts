import { BlockError } from '../block/block-error.js';
import { type ReplicaTarget, targetToString } from '../net/replica-address.js';
import type { SyncFromArgs, SyncStatus } from '../protocol/sync-ops.js';
import type { ReplicaBackend } from '../replica/replica-backend.js';
import type { LayerInfo } from '../replica/types.js';
import {
  layerMeta,
  type Rebuilder,
  type RebuildOptions,
  type RebuildProgressReport,
  replicaRebuilder,
} from './rebuild.js';

/** A backend reached through a replica server (the protocol's ReplicaClient). */
interface SyncCapable extends ReplicaBackend {
  readonly replicaId: string;
  readonly target: ReplicaTarget;
  syncFrom(args: SyncFromArgs): Promise<void>;
  syncProgress(): Promise<SyncStatus>;
}

function syncCapable(b: ReplicaBackend): b is SyncCapable {
  const s = b as Partial<SyncCapable>;
  return (
    typeof s.syncFrom === 'function' &&
    typeof s.syncProgress === 'function' &&
    typeof s.replicaId === 'string' &&
    typeof s.target === 'object'
  );
}

export interface DirectRebuildOptions extends RebuildOptions {
  /** How often the engine polls the target's progress (default 200 ms). */
  pollMs?: number;
  /** Give up when the sync made no progress for this long (default 120 s). */
  stallTimeoutMs?: number;
  /**
   * The source's address as the target's server should dial it. Default: the TCP address the
   * engine reached it at (`sourceAddressForTarget`); a Unix socket only when the engine reaches
   * the target through one too, else the engine-side copy (a socket path means nothing on
   * another host).
   */
  sourceAddress?: (source: ReplicaBackend & { target: ReplicaTarget }) => string;
  /** Use the engine-side copy when the target's server does not offer syncFrom (default true). */
  fallback?: boolean;
  /** Never read a source in the target's own process directly (see SyncFromArgs). */
  viaSocket?: boolean;
}

export interface DirectRebuildProgress extends RebuildProgressReport {
  bytesFetched: number;
  bytesReused: number;
  layersSkipped: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Rebuild by replica-to-replica transfer (Longhorn's sync agent): the engine asks the target
 * replica's server to pull the source's layers itself (`syncFrom`, see sync-agent.ts)
 * and polls `syncProgress`; no rebuild data passes through the engine. The target may be a
 * returning replica holding old copies of the layers: only differing 2 MiB pieces are sent,
 * unchanged layers are skipped. Falls back to the engine-side copy (rebuild.ts) for targets
 * whose server does not offer syncFrom.
 */
export function directRebuilder(opts: DirectRebuildOptions = {}): Rebuilder {
  const fallback = replicaRebuilder(opts);
  let useFallback = false;
  return {
    async prepare(source, target) {
      useFallback = false;
      if (syncCapable(source) && syncCapable(target)) {
        try {
          await target.syncProgress();
        } catch (err) {
          if ((err as BlockError).code !== 'ENOTSUP' || opts.fallback === false) throw err;
          useFallback = true;
        }
      } else if (opts.fallback === false) {
        throw new BlockError('ENOTSUP', 'direct rebuild needs replicas reached through a replica server');
      } else {
        useFallback = true;
      }
      if (useFallback) return fallback.prepare(source, target);
      const [s, t] = await Promise.all([source.info(), target.info()]);
      if (s.size !== t.size) {
        throw new BlockError('EINVAL', `rebuild target size ${t.size} differs from the source's ${s.size}`);
      }
    },

    async copy(source, target, snapshot, progress) {
      if (useFallback || !syncCapable(source) || !syncCapable(target)) {
        return fallback.copy(source, target, snapshot, progress);
      }
      // Every snapshot of the source (the head excluded): all of them predate the join
      // snapshot, which is the head's parent (the engine allows no chain change meanwhile).
      const [chain, info] = await Promise.all([source.chain(), source.info()]);
      if (!chain.some((l) => l.name === snapshot))
        throw new BlockError('EIO', `rebuild source lacks the join snapshot ${snapshot}`);
      const layers = chain.filter((l) => l.name !== info.headName);
      const address = opts.sourceAddress
        ? opts.sourceAddress(source)
        : sourceAddressForTarget(source.target, target.target);
      if (address === undefined) {
        if (opts.fallback === false) {
          throw new BlockError('EINVAL', 'the rebuild source is reachable only through a local Unix socket');
        }
        // The engine knows the source only by its local Unix socket, and the target may be on
        // another host: the engine copies the layers itself rather than hand over an address
        // the target cannot reach.
        return fallback.copy(source, target, snapshot, progress);
      }
      // A job left by an engine that died mid-rebuild would refuse ours until its lease lapses.
      await target.abortImport();
      await target.syncFrom({
        source: address,
        sourceReplicaId: source.replicaId,
        layers: layers.map(layerMeta),
        bandwidthLimit: opts.bandwidthLimit,
        workers: opts.workers,
        viaSocket: opts.viaSocket,
      });
      try {
        await waitForSync(target, opts, progress);
      } catch (err) {
        // Stops a job still running (stall, poll failure) and drops what it staged.
        await target.abortImport().catch(() => {});
        throw err;
      }
      const [after, targetInfo] = await Promise.all([target.chain(), target.info()]);
      checkChain(
        source.replicaId,
        layers,
        after.filter((l) => l.name !== targetInfo.headName),
      );
    },
  };
}

/**
 * The address the target's server should dial the source at: the source's TCP address as the
 * engine reached it (what the replica server advertises on its node's IP). A Unix socket only
 * when the target is reached over a Unix socket too (both on the engine's host); otherwise
 * undefined, since a socket path means nothing on another host.
 */
export function sourceAddressForTarget(source: ReplicaTarget, target: ReplicaTarget): string | undefined {
  if (!('path' in source)) return targetToString(source);
  return 'path' in target ? targetToString(source) : undefined;
}

async function waitForSync(
  target: SyncCapable,
  opts: DirectRebuildOptions,
  progress: (p: DirectRebuildProgress) => void,
): Promise<void> {
  const pollMs = opts.pollMs ?? 200;
  const stallMs = opts.stallTimeoutMs ?? 120_000;
  let mark = '';
  let movedAt = Date.now();
  for (;;) {
    const st = await target.syncProgress();
    progress({
      bytesDone: st.bytesDone,
      bytesTotal: st.bytesTotal,
      bytesFetched: st.bytesFetched,
      bytesReused: st.bytesReused,
      layersSkipped: st.layersSkipped,
    });
    if (st.state === 'done') return;
    if (st.state !== 'running') {
      throw new BlockError(
        'EIO',
        `rebuild of ${target.replicaId} from ${st.source || 'the source'} ${st.state}: ${st.error ?? 'no sync running'}`,
      );
    }
    const now = Date.now();
    const seen = `${st.phase}/${st.bytesDone}/${st.bytesCompared}`;
    if (seen !== mark) {
      mark = seen;
      movedAt = now;
    } else if (now - movedAt > stallMs) {
      throw new BlockError('EIO', `rebuild of ${target.replicaId} made no progress for ${stallMs} ms`);
    }
    await sleep(pollMs);
  }
}

/** The target must now hold exactly the source's layers (same names and parents) below its head. */
function checkChain(sourceId: string, want: LayerInfo[], got: LayerInfo[]): void {
  const key = (l: LayerInfo) => `${l.name}<-${l.parent ?? ''}`;
  const a = want.map(key).sort().join(',');
  const b = got.map(key).sort().join(',');
  if (a !== b) throw new BlockError('EIO', `rebuilt chain [${b}] differs from ${sourceId}'s [${a}]`);
}
