/** ShareManager (lhsm): the NFS server that serves an RWX volume. Schema now, controller later. */
import type { LonghornResource } from './object-meta.js';
import { enumOrEmpty, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export const SHARE_MANAGER_STATES = [
  'unknown',
  'starting',
  'running',
  'stopping',
  'stopped',
  'error',
] as const;
export type ShareManagerState = (typeof SHARE_MANAGER_STATES)[number];

export interface ShareManagerSpec {
  image?: string;
}

export interface ShareManagerStatus {
  ownerID?: string;
  state?: ShareManagerState | '';
  currentImage?: string;
  /** `nfs://IP/volume`: where the volume's file system is exported. */
  endpoint?: string;
}

export type ShareManager = LonghornResource<'ShareManager', ShareManagerSpec, ShareManagerStatus>;

const shareManagerSpec = obj({ image: str() });

const shareManagerStatus = obj({
  ownerID: str(),
  state: enumOrEmpty(SHARE_MANAGER_STATES),
  currentImage: str(),
  endpoint: str(),
});

type _SpecCheck = Expect<SameShape<ShareManagerSpec, Infer<typeof shareManagerSpec>>>;
type _StatusCheck = Expect<SameShape<ShareManagerStatus, Infer<typeof shareManagerStatus>>>;

export const shareManagerResource: ResourceDefinition = {
  kind: 'ShareManager',
  plural: 'sharemanagers',
  shortNames: ['lhsm'],
  description: 'The NFS server of one ReadWriteMany volume.',
  properties: { spec: shareManagerSpec, status: shareManagerStatus },
  printerColumns: [
    {
      name: 'State',
      type: 'string',
      jsonPath: '.status.state',
      description: 'The state of the share manager',
    },
    {
      name: 'Node',
      type: 'string',
      jsonPath: '.status.ownerID',
      description: 'The node that the share manager is owned by',
    },
    {
      name: 'Image',
      type: 'string',
      jsonPath: '.status.currentImage',
      description: 'The current image of the share manager',
    },
    AGE_COLUMN,
  ],
};
