/**
 * InstanceManager (lhim): the per-node supervisor of engine and replica processes, and what it
 * last reported about each of them.
 */
import { type Condition, conditionsSchema } from './condition.js';
import { DATA_ENGINES, type DataEngine } from './data-engine.js';
import { INSTANCE_STATES, type InstanceState } from './instance.js';
import type { LonghornResource } from './object-meta.js';
import { bool, enumOf, enumOrEmpty, int, map, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export const INSTANCE_MANAGER_STATES = ['error', 'running', 'stopped', 'starting', 'unknown'] as const;
export type InstanceManagerState = (typeof INSTANCE_MANAGER_STATES)[number];

/** `aio` runs engines and replicas both; `engine` and `replica` are Longhorn's older split. */
export const INSTANCE_MANAGER_TYPES = ['aio', 'engine', 'replica'] as const;
export type InstanceManagerType = (typeof INSTANCE_MANAGER_TYPES)[number];

export const INSTANCE_TYPES = ['engine', 'replica', 'engine-frontend'] as const;
export type InstanceType = (typeof INSTANCE_TYPES)[number];

export const INSTANCE_MANAGER_CONDITION_TYPES = ['NodeReady', 'PodReady', 'SettingSynced'] as const;

export interface InstanceProcessSpec {
  name?: string;
  dataEngine?: DataEngine | '';
}

export interface InstanceProcessStatus {
  /** For an engine: its frontend endpoint (ours: the NBD URI). */
  endpoint?: string;
  frontend?: string;
  errorMsg?: string;
  conditions?: Record<string, boolean>;
  listen?: string;
  portStart?: number;
  portEnd?: number;
  targetPortStart?: number;
  targetPortEnd?: number;
  state?: InstanceState | '';
  type?: InstanceType | '';
  /** Bumped by the instance manager on every change of this process. */
  resourceVersion?: number;
  uuid?: string;
}

export interface InstanceProcess {
  spec?: InstanceProcessSpec;
  status?: InstanceProcessStatus;
}

export interface InstanceManagerSpec {
  image?: string;
  nodeID?: string;
  type?: InstanceManagerType;
  dataEngine?: DataEngine | '';
}

export interface InstanceManagerStatus {
  ownerID?: string;
  currentState?: InstanceManagerState | '';
  conditions?: Condition[];
  /** Engine processes by engine name. */
  instanceEngines?: Record<string, InstanceProcess>;
  /** Replica processes by replica name. */
  instanceReplicas?: Record<string, InstanceProcess>;
  /** Where the instance manager's gRPC service listens. */
  ip?: string;
  apiMinVersion?: number;
  apiVersion?: number;
  proxyApiMinVersion?: number;
  proxyApiVersion?: number;
}

export type InstanceManager = LonghornResource<'InstanceManager', InstanceManagerSpec, InstanceManagerStatus>;

const port = int({ format: 'int32', min: 0, max: 65535 });

const instanceProcess = obj({
  spec: obj({ name: str(), dataEngine: enumOrEmpty(DATA_ENGINES) }),
  status: obj({
    endpoint: str(),
    frontend: str(),
    errorMsg: str(),
    conditions: map(bool(), { nullable: true }),
    listen: str(),
    portStart: port,
    portEnd: port,
    targetPortStart: port,
    targetPortEnd: port,
    state: enumOrEmpty(INSTANCE_STATES),
    type: enumOrEmpty(INSTANCE_TYPES),
    resourceVersion: int({ format: 'int64' }),
    uuid: str(),
  }),
});

const instanceManagerSpec = obj({
  image: str(),
  nodeID: str(),
  type: enumOf(INSTANCE_MANAGER_TYPES),
  dataEngine: enumOrEmpty(DATA_ENGINES),
});

const instanceManagerStatus = obj({
  ownerID: str(),
  currentState: enumOrEmpty(INSTANCE_MANAGER_STATES),
  conditions: conditionsSchema,
  instanceEngines: map(instanceProcess, { nullable: true }),
  instanceReplicas: map(instanceProcess, { nullable: true }),
  ip: str(),
  apiMinVersion: int(),
  apiVersion: int(),
  proxyApiMinVersion: int(),
  proxyApiVersion: int(),
});

type _ProcessCheck = Expect<SameShape<InstanceProcess, Infer<typeof instanceProcess>>>;
type _SpecCheck = Expect<SameShape<InstanceManagerSpec, Infer<typeof instanceManagerSpec>>>;
type _StatusCheck = Expect<SameShape<InstanceManagerStatus, Infer<typeof instanceManagerStatus>>>;

export const instanceManagerResource: ResourceDefinition = {
  kind: 'InstanceManager',
  plural: 'instancemanagers',
  shortNames: ['lhim'],
  description: 'The supervisor of the engine and replica processes of one node.',
  properties: { spec: instanceManagerSpec, status: instanceManagerStatus },
  printerColumns: [
    {
      name: 'Data Engine',
      type: 'string',
      jsonPath: '.spec.dataEngine',
      description: 'The data engine of the instance manager',
    },
    {
      name: 'State',
      type: 'string',
      jsonPath: '.status.currentState',
      description: 'The state of the instance manager',
    },
    {
      name: 'Type',
      type: 'string',
      jsonPath: '.spec.type',
      description: 'The type of the instance manager (engine or replica)',
    },
    {
      name: 'Node',
      type: 'string',
      jsonPath: '.spec.nodeID',
      description: 'The node that the instance manager is running on',
    },
    AGE_COLUMN,
  ],
};
