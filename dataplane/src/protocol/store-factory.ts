import type { ReplicaStore } from '../replica/types.js';

export interface CreateReplicaOptions {
  size: number;
  /** Sector size the frontend advertises (512 or 4096). */
  sectorSize?: number;
  /** Initial generation mark. */
  generation?: number;
}

/**
 * How a replica server makes and opens stores. The process entry passes the real `Replica`;
 * tests may pass an in-memory store.
 */
export interface ReplicaStoreFactory {
  create(dir: string, opts: CreateReplicaOptions): Promise<ReplicaStore>;
  open(dir: string): Promise<ReplicaStore>;
}
