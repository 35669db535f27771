/**
 * The instance half of Engine and Replica: what the instance manager on `nodeID` runs for them
 * (desired state) and what it reports back (current state, address).
 */
import { type Condition, conditionsSchema } from './condition.js';
import { DATA_ENGINES, type DataEngine } from './data-engine.js';
import { bool, bytes, enumOf, enumOrEmpty, int, str } from './schema/builders.js';

export const INSTANCE_STATES = [
  'running',
  'suspended',
  'stopped',
  'error',
  'starting',
  'stopping',
  'unknown',
  'terminated',
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

export interface InstanceSpec {
  volumeName?: string;
  /** Bytes, as a string of decimal digits. */
  volumeSize?: string;
  /** The node whose instance manager runs this instance. */
  nodeID?: string;
  image?: string;
  desireState?: InstanceState | '';
  logRequested?: boolean;
  salvageRequested?: boolean;
  dataEngine?: DataEngine;
}

export interface InstanceStatus {
  ownerID?: string;
  instanceManagerName?: string;
  currentState?: InstanceState | '';
  currentImage?: string;
  ip?: string;
  storageIP?: string;
  port?: number;
  starting?: boolean;
  started?: boolean;
  logFetched?: boolean;
  salvageExecuted?: boolean;
  conditions?: Condition[];
  uuid?: string;
}

export const instanceSpecProperties = {
  volumeName: str(),
  volumeSize: bytes(),
  nodeID: str(),
  image: str(),
  desireState: enumOrEmpty(INSTANCE_STATES),
  logRequested: bool(),
  salvageRequested: bool(),
  dataEngine: enumOf(DATA_ENGINES),
};

export const instanceStatusProperties = {
  ownerID: str(),
  instanceManagerName: str(),
  currentState: enumOrEmpty(INSTANCE_STATES),
  currentImage: str(),
  ip: str(),
  storageIP: str(),
  port: int({ min: 0, max: 65535 }),
  starting: bool(),
  started: bool(),
  logFetched: bool(),
  salvageExecuted: bool(),
  conditions: conditionsSchema,
  uuid: str(),
};
