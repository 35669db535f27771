import type { LayerImport } from '../replica/types.js';

/**
 * Payloads of the sync agent's control ops (`syncFrom`, `syncProgress`), as they cross the
 * replica protocol. The agent itself is sync/sync-agent.ts; a replica server serves these ops
 * only when its entry point gives it the agent's table (ReplicaServerOptions.controlOps).
 */

export interface SyncFromArgs {
  /** The source replica server: "host:port" or "unix:/path". */
  source: string;
  sourceReplicaId: string;
  /** The source's layers to reproduce, oldest first, up to and including the join snapshot. */
  layers: LayerImport[];
  /** Bytes per second pulled from the source; 0 or absent = unlimited. */
  bandwidthLimit?: number;
  /** Piece size (default 2 MiB). */
  chunkSize?: number;
  /** Pieces in flight (default 4). */
  workers?: number;
  /** Cancel the job when nobody polled `syncProgress` for this long (default 30 s). */
  leaseMs?: number;
  /**
   * Read through the socket even when the source replica is served by the same sync agent (by
   * default such a source's layers are read directly from its store: same bytes, no copies
   * through the kernel's socket buffers).
   */
  viaSocket?: boolean;
}

export type SyncState = 'idle' | 'running' | 'done' | 'failed' | 'cancelled';

export interface SyncStatus {
  state: SyncState;
  /** 'connect' | 'plan' (allocation and checksums) | 'copy' | 'commit' while running. */
  phase: string;
  source: string;
  /** Data bytes of the source's layers: what the target ends up holding. */
  bytesTotal: number;
  /** Of bytesTotal, bytes in place on the target (pulled, reused or in skipped layers). */
  bytesDone: number;
  /** Bytes pulled over the network from the source. */
  bytesFetched: number;
  /** Bytes kept from the target's own old copy (checksums equal). */
  bytesReused: number;
  /** Bytes hashed on each side to find differences. */
  bytesCompared: number;
  /** Layers whose content and metadata already matched: left untouched. */
  layersSkipped: string[];
  /** Layers the target held that the source does not: deleted at commit. */
  layersDropped: string[];
  /** Milliseconds spent in each phase so far (where the time goes). */
  phaseMs: Record<string, number>;
  error?: string;
  errorCode?: string;
}
