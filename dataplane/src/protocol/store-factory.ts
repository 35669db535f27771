import type { ReplicaStore } from '../replica/types.js';

/**
 * How a replica server makes and opens stores. The process entry passes the real `Replica`;
 * tests may pass an in-memory store.
 */
export interface ReplicaStoreFactory {
  create(dir: string, opts: { size: number }): Promise<ReplicaStore>;
  open(dir: string): Promise<ReplicaStore>;
}

/**
 * Rebuild calls a store may offer beyond ReplicaStore. The server looks them up at run time and
 * answers ENOTSUP when the store lacks one.
 */
export interface LayerReader {
  readLayer(name: string, offset: number, length: number): Promise<Buffer>;
}

export interface LayerWriter {
  writeLayer(name: string, offset: number, data: Buffer): Promise<void>;
}
