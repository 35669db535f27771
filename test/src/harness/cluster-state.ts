import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LonghornNodeRecord } from './longhorn-node.js';
import type { ProcessRecord } from './managed-process.js';
import type { NodeSpec } from './node-specs.js';

export const STATE_FILE = 'cluster.json';

/** What `cluster down` (or any other process) needs to find and stop a cluster. */
export interface ClusterState {
  dir: string;
  kubeconfig: string;
  apiServer: string;
  /** The process that owns the cluster's lifetime; null when it outlives its starter. */
  ownerPid: number | null;
  ready: boolean;
  startedAt: string;
  nodes: NodeSpec[];
  ports: Record<string, number>;
  /** In start order; stopped in reverse. */
  processes: ProcessRecord[];
  /** Per node, where its longhorn-ts processes answer (absent for a bare control plane). */
  longhorn?: Record<string, LonghornNodeRecord>;
}

export function stateFile(dir: string): string {
  return join(dir, STATE_FILE);
}

export async function readClusterState(dir: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as ClusterState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Atomic replace, so a concurrent reader never sees half a file. */
export async function writeClusterState(state: ClusterState): Promise<void> {
  const path = stateFile(state.dir);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, path);
}

export async function removeClusterState(dir: string): Promise<void> {
  await rm(stateFile(dir), { force: true });
}
