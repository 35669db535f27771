/** Snapshot (lhsnap): one snapshot of a volume, created and deleted through its engine. */
import type { LonghornResource } from './object-meta.js';
import { bool, int, map, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export interface SnapshotSpec {
  /** The volume the snapshot belongs to; cannot change. */
  volume: string;
  /** True asks the controller to take the snapshot; false adopts one that exists. */
  createSnapshot?: boolean;
  labels?: Record<string, string>;
}

export interface SnapshotStatus {
  parent?: string;
  children?: Record<string, boolean>;
  markRemoved?: boolean;
  userCreated?: boolean;
  requestedTime?: string;
  creationTime?: string;
  /** Bytes of data in this layer. */
  size?: number;
  labels?: Record<string, string>;
  ownerID?: string;
  error?: string;
  /** Size of the volume when the snapshot was taken: the least a restore needs. */
  restoreSize?: number;
  readyToUse?: boolean;
  checksum?: string;
  checksumCalculatedAt?: string;
}

export type Snapshot = LonghornResource<'Snapshot', SnapshotSpec, SnapshotStatus>;

const snapshotSpec = obj(
  {
    volume: str({ immutable: 'spec.volume is immutable' }),
    createSnapshot: bool(),
    labels: map(str(), { nullable: true }),
  },
  { required: ['volume'] },
);

const snapshotStatus = obj({
  parent: str(),
  children: map(bool(), { nullable: true }),
  markRemoved: bool(),
  userCreated: bool(),
  requestedTime: str(),
  creationTime: str(),
  size: int({ format: 'int64', min: 0 }),
  labels: map(str(), { nullable: true }),
  ownerID: str(),
  error: str(),
  restoreSize: int({ format: 'int64', min: 0 }),
  readyToUse: bool(),
  checksum: str(),
  checksumCalculatedAt: str(),
});

type _SpecCheck = Expect<SameShape<SnapshotSpec, Infer<typeof snapshotSpec>>>;
type _StatusCheck = Expect<SameShape<SnapshotStatus, Infer<typeof snapshotStatus>>>;

export const snapshotResource: ResourceDefinition = {
  kind: 'Snapshot',
  plural: 'snapshots',
  shortNames: ['lhsnap'],
  description: 'A point-in-time snapshot of a volume, held in every replica of it.',
  properties: { spec: snapshotSpec, status: snapshotStatus },
  printerColumns: [
    {
      name: 'Volume',
      type: 'string',
      jsonPath: '.spec.volume',
      description: 'The volume that this snapshot belongs to',
    },
    {
      name: 'CreationTime',
      type: 'string',
      jsonPath: '.status.creationTime',
      description: 'Timestamp when the point-in-time snapshot was taken',
    },
    {
      name: 'ReadyToUse',
      type: 'boolean',
      jsonPath: '.status.readyToUse',
      description: 'Indicates if the snapshot is ready to be used to restore/backup a volume',
    },
    {
      name: 'RestoreSize',
      type: 'string',
      jsonPath: '.status.restoreSize',
      description: 'Represents the minimum size of volume required to rehydrate from this snapshot',
    },
    {
      name: 'Size',
      type: 'string',
      jsonPath: '.status.size',
      description: 'The actual size of the snapshot',
    },
    AGE_COLUMN,
  ],
};
