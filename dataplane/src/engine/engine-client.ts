import type { RotationStatus } from '../crypt/data-key-rotation.js';
import type { IoCounters } from '../frontend/io-stats-device.js';
import type { QosLimits, QosStats } from '../qos/index.js';
import { callUnary, grpc, loadService } from '../rpc/grpc-proto.js';
import type { CloneArgs, CloneStatus } from './clone-job.js';

export type { RotationStatus } from '../crypt/data-key-rotation.js';
export type { CloneArgs, CloneStatus } from './clone-job.js';

import { qosFromWire, qosLimitsToWire, type WireQos } from './qos-wire.js';

export interface VolumeReplicaView {
  id: string;
  address: string;
  mode: 'RW' | 'WO' | 'ERR';
  error: string;
  rebuilding: boolean;
  rebuildBytesDone: number;
  rebuildBytesTotal: number;
  rebuildPercent: number;
}

export interface VolumeView {
  name: string;
  size: number;
  robustness: string;
  replicas: VolumeReplicaView[];
  frontend: string;
  generation: number;
  /** The clone job (SnapshotClone); absent from an engine that predates it. */
  clone?: CloneStatus;
  /** An encrypted volume's data-key rotation (state "none" when never rotated); absent on a plain one. */
  dataKeyRotation?: RotationStatus;
}

export interface SnapshotView {
  name: string;
  parent: string;
  children: string[];
  removed: boolean;
  userCreated: boolean;
  created: string;
  labels: Record<string, string>;
  size: number;
  allocatedBytes: number;
  head: boolean;
}

/** A typed client of one engine process's control service (engine.proto). */
export class EngineClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    const Service = loadService('engine.proto', 'longhorn.engine.v1.Engine');
    this.client = new Service(address, grpc.credentials.createInsecure());
  }

  volume(): Promise<VolumeView> {
    return callUnary(this.client, 'volumeGet', {}, 10_000);
  }

  expand(size: number): Promise<VolumeView> {
    return callUnary(this.client, 'volumeExpand', { size });
  }

  frontendStart(): Promise<VolumeView> {
    return callUnary(this.client, 'frontendStart', {});
  }

  frontendStop(): Promise<VolumeView> {
    return callUnary(this.client, 'frontendStop', {});
  }

  addReplica(id: string, address: string, opts: { bandwidthLimit?: number; background?: boolean } = {}) {
    return callUnary<VolumeView>(
      this.client,
      'replicaAdd',
      { id, address, bandwidthLimit: opts.bandwidthLimit ?? 0, background: opts.background ?? false },
      24 * 3600_000,
    );
  }

  removeReplica(id: string): Promise<VolumeView> {
    return callUnary(this.client, 'replicaRemove', { id });
  }

  snapshotCreate(name: string, labels: Record<string, string> = {}): Promise<SnapshotView> {
    return callUnary(this.client, 'snapshotCreate', { name, labels });
  }

  async snapshotList(): Promise<SnapshotView[]> {
    return (await callUnary<{ snapshots: SnapshotView[] }>(this.client, 'snapshotList', {})).snapshots;
  }

  async snapshotDelete(name: string): Promise<void> {
    await callUnary(this.client, 'snapshotDelete', { name });
  }

  async snapshotPurge(): Promise<string[]> {
    return (await callUnary<{ purged: string[] }>(this.client, 'snapshotPurge', {}, 3600_000)).purged;
  }

  snapshotRevert(name: string): Promise<VolumeView> {
    return callUnary(this.client, 'snapshotRevert', { name });
  }

  /** Frontend I/O counters since the engine started. */
  ioStats(): Promise<IoCounters> {
    return callUnary(this.client, 'volumeIoStats', {}, 10_000);
  }

  async qos(): Promise<QosStats> {
    return qosFromWire(await callUnary<WireQos>(this.client, 'qosGet', {}));
  }

  /** Replaces every limit (a field left out is no limit), online. */
  async setQos(limits: QosLimits): Promise<QosStats> {
    return qosFromWire(await callUnary<WireQos>(this.client, 'qosSet', qosLimitsToWire(limits)));
  }

  /** Starts (or, asked again alike, reports) filling this volume from another's snapshot. */
  snapshotClone(args: CloneArgs): Promise<CloneStatus> {
    return callUnary(this.client, 'snapshotClone', args);
  }

  snapshotCloneStatus(): Promise<CloneStatus> {
    return callUnary(this.client, 'snapshotCloneStatus', {});
  }

  /**
   * Starts re-encrypting to the data key in `encryption` (envelope arg form) from the one in
   * `previousEncryption`, both wrapped by the KEK in `kekFile`; the same request again answers
   * the status.
   */
  dataKeyRotate(req: {
    encryption: string;
    previousEncryption: string;
    kekFile: string;
    bandwidthLimit?: number;
  }): Promise<RotationStatus> {
    return callUnary(this.client, 'dataKeyRotate', { bandwidthLimit: 0, ...req }, 60_000);
  }

  dataKeyRotationStatus(): Promise<RotationStatus> {
    return callUnary(this.client, 'dataKeyRotationStatus', {});
  }

  close(): void {
    this.client.close();
  }
}
