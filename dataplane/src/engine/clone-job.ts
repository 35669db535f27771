import { BlockError } from '../block/block-error.js';
import type { CloneSource } from '../sync/snapshot-clone.js';
import type { Engine } from './engine.js';

export type CloneState = 'idle' | 'running' | 'done' | 'failed';

export interface CloneArgs {
  /** The source replica's address (HOST:PORT) and id on its replica server. */
  fromAddress: string;
  fromReplicaId: string;
  snapshot: string;
  /** The layer the clone's replicas receive. */
  layer: string;
  /** Bytes per second; 0 = unlimited. */
  bandwidthLimit: number;
}

export interface CloneStatus extends Omit<CloneArgs, 'bandwidthLimit'> {
  state: CloneState;
  bytesDone: number;
  bytesTotal: number;
  error: string;
}

/** What starting a clone needs: a reader of the source replica, closed when the clone ends. */
export type SourceOpener = (args: CloneArgs) => Promise<CloneSource & { close(): Promise<void> }>;

/**
 * The engine process's one clone job (Longhorn's SnapshotClone + SnapshotCloneStatus): started
 * in the background, its progress polled. Asking again with the same arguments while it runs or
 * after it finished answers its status (idempotent); a failed job is started afresh; other
 * arguments while one runs are refused. The status lives only in this process: an engine that
 * restarts knows of no clone, and its operator asks again.
 */
export class CloneJob {
  private status: CloneStatus = {
    state: 'idle',
    fromAddress: '',
    fromReplicaId: '',
    snapshot: '',
    layer: '',
    bytesDone: 0,
    bytesTotal: 0,
    error: '',
  };

  constructor(
    private readonly engine: Engine,
    private readonly open: SourceOpener,
  ) {}

  current(): CloneStatus {
    return { ...this.status };
  }

  start(args: CloneArgs): CloneStatus {
    checkArgs(args);
    const s = this.status;
    const same =
      s.fromAddress === args.fromAddress &&
      s.fromReplicaId === args.fromReplicaId &&
      s.snapshot === args.snapshot &&
      s.layer === args.layer;
    if (s.state === 'running') {
      if (same) return this.current();
      throw new BlockError(
        'EPERM',
        `volume ${this.engine.volume}: a clone of ${s.snapshot} from ${s.fromAddress} is running`,
      );
    }
    if (s.state === 'done' && same) return this.current();
    this.status = {
      state: 'running',
      fromAddress: args.fromAddress,
      fromReplicaId: args.fromReplicaId,
      snapshot: args.snapshot,
      layer: args.layer,
      bytesDone: 0,
      bytesTotal: 0,
      error: '',
    };
    const status = this.status;
    this.run(args, status).catch((err: unknown) => {
      status.state = 'failed';
      status.error = (err as Error).message;
    });
    return this.current();
  }

  private async run(args: CloneArgs, status: CloneStatus): Promise<void> {
    const source = await this.open(args);
    try {
      await this.engine.cloneFrom(
        source,
        { snapshot: args.snapshot, layer: args.layer },
        { bandwidthLimit: args.bandwidthLimit },
        (p) => {
          status.bytesDone = p.bytesDone;
          status.bytesTotal = p.bytesTotal;
        },
      );
      status.state = 'done';
    } finally {
      await source.close().catch(() => {});
    }
  }
}

function checkArgs(a: CloneArgs): void {
  if (!a.fromAddress) throw new BlockError('EINVAL', 'the source replica address is required');
  if (!a.fromReplicaId) throw new BlockError('EINVAL', 'the source replica id is required');
  if (!a.snapshot) throw new BlockError('EINVAL', 'the source snapshot is required');
  if (!a.layer) throw new BlockError('EINVAL', 'the name of the cloned layer is required');
  if (!Number.isSafeInteger(a.bandwidthLimit) || a.bandwidthLimit < 0)
    throw new BlockError('EINVAL', 'bandwidthLimit must be a non-negative integer');
}
