/**
 * The csi.proto message shapes the handlers read and write, as @grpc/proto-loader presents them
 * (camelCase, enums as names, int64 as numbers, `accessType` naming the set oneof member).
 */
export type AccessModeName =
  | 'UNKNOWN'
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';

export interface VolumeCapability {
  accessType?: 'mount' | 'block';
  mount?: { fsType?: string; mountFlags?: string[]; volumeMountGroup?: string } | null;
  block?: Record<string, never> | null;
  accessMode?: { mode?: AccessModeName } | null;
}

export interface CapacityRange {
  requiredBytes?: number;
  limitBytes?: number;
}

export type StringMap = Record<string, string>;

export interface Topology {
  segments?: StringMap;
}

export interface CsiVolume {
  capacityBytes: number;
  volumeId: string;
  volumeContext: StringMap;
  accessibleTopology?: Topology[];
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface CsiSnapshot {
  sizeBytes: number;
  snapshotId: string;
  sourceVolumeId: string;
  creationTime: Timestamp;
  readyToUse: boolean;
}

export function timestamp(iso: string | undefined): Timestamp {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  const t = Number.isFinite(ms) ? ms : Date.now();
  return { seconds: Math.floor(t / 1000), nanos: (t % 1000) * 1_000_000 };
}
