import {
  BACKUP_COMPRESSION_METHODS,
  DATA_LOCALITIES,
  MAX_REPLICAS,
  MAX_SNAPSHOT_COUNT,
  MIN_REPLICAS,
  QOS_STORAGE_CLASS_PARAMETERS,
  REPLICA_AUTO_BALANCES,
  SETTING_OVERRIDES,
  SNAPSHOT_DATA_INTEGRITIES,
  type VolumeSpec,
} from '@longhorn-ts/api';
import { CsiError, invalid } from '../errors.js';
import { FILESYSTEMS } from '../node/filesystems.js';
import { backupUrlProblem } from './backup-url-check.js';

/** What StorageClass parameters become: Volume spec fields, and what the node needs (fsType...). */
export interface ParsedParameters {
  spec: Partial<VolumeSpec>;
  /** The parameters as the node plugin gets them back (PV volumeAttributes): all but `csi.storage.k8s.io/*`. */
  volumeContext: Record<string, string>;
}

type Parse = (value: string, name: string) => Partial<VolumeSpec> | undefined;

const oneOf =
  <T extends string>(choices: readonly T[], field: keyof VolumeSpec): Parse =>
  (value, name) => {
    if (!(choices as readonly string[]).includes(value))
      throw invalid(`parameter ${name}: "${value}" is not one of ${choices.join(', ')}`);
    return { [field]: value };
  };

const integer =
  (field: keyof VolumeSpec, min: number, max: number): Parse =>
  (value, name) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max)
      throw invalid(`parameter ${name}: "${value}" is not an integer from ${min} to ${max}`);
    return { [field]: n };
  };

const boolean =
  (field: keyof VolumeSpec): Parse =>
  (value, name) => {
    if (value !== 'true' && value !== 'false')
      throw invalid(`parameter ${name}: "${value}" is not true or false`);
    return { [field]: value === 'true' };
  };

/** Longhorn's comma-separated tag lists (`diskSelector: "ssd,fast"`). */
const tags =
  (field: keyof VolumeSpec): Parse =>
  (value) => ({
    [field]: value
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== ''),
  });

/** Accepted only with the value(s) longhorn-ts can serve now; anything else names what is missing. */
const onlyValues =
  (allowed: readonly string[], why: string): Parse =>
  (value, name) => {
    if (!allowed.includes(value))
      throw new CsiError('FAILED_PRECONDITION', `parameter ${name}: "${value}": ${why}`);
    return undefined;
  };

const nodeOnly: Parse = () => undefined;

/** A QoS limit (longhorn-ts extension): a positive integer, into spec.qos. */
const qosLimit =
  (field: keyof NonNullable<VolumeSpec['qos']>, max: number): Parse =>
  (value, name) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < 1 || n > max)
      throw invalid(
        `parameter ${name}: "${value}" is not an integer from 1 to ${max} (leave it out for no limit)`,
      );
    return { qos: { [field]: n } };
  };

const QOS_PARAMETERS: Record<string, Parse> = Object.fromEntries(
  Object.entries(QOS_STORAGE_CLASS_PARAMETERS).map(([name, field]) => [
    name,
    qosLimit(field, field === 'burstSeconds' ? 60 : Number.MAX_SAFE_INTEGER),
  ]),
);

/**
 * Longhorn's StorageClass parameters (longhorn-manager csi/controller_server.go and the chart's
 * StorageClass), one row each. A parameter not in this table is refused by name.
 */
const PARAMETERS: Record<string, Parse> = {
  numberOfReplicas: integer('numberOfReplicas', MIN_REPLICAS, MAX_REPLICAS),
  staleReplicaTimeout: integer('staleReplicaTimeout', 0, 2 ** 31 - 1),
  dataLocality: oneOf(DATA_LOCALITIES, 'dataLocality'),
  replicaAutoBalance: oneOf(REPLICA_AUTO_BALANCES, 'replicaAutoBalance'),
  diskSelector: tags('diskSelector'),
  nodeSelector: tags('nodeSelector'),
  replicaSoftAntiAffinity: oneOf(SETTING_OVERRIDES, 'replicaSoftAntiAffinity'),
  replicaZoneSoftAntiAffinity: oneOf(SETTING_OVERRIDES, 'replicaZoneSoftAntiAffinity'),
  replicaDiskSoftAntiAffinity: oneOf(SETTING_OVERRIDES, 'replicaDiskSoftAntiAffinity'),
  unmapMarkSnapChainRemoved: oneOf(SETTING_OVERRIDES, 'unmapMarkSnapChainRemoved'),
  freezeFilesystemForSnapshot: oneOf(SETTING_OVERRIDES, 'freezeFilesystemForSnapshot'),
  offlineRebuilding: oneOf(SETTING_OVERRIDES, 'offlineRebuilding'),
  snapshotDataIntegrity: oneOf(SNAPSHOT_DATA_INTEGRITIES, 'snapshotDataIntegrity'),
  backupCompressionMethod: oneOf(BACKUP_COMPRESSION_METHODS, 'backupCompressionMethod'),
  disableRevisionCounter: boolean('revisionCounterDisabled'),
  snapshotMaxCount: integer('snapshotMaxCount', 0, MAX_SNAPSHOT_COUNT),
  snapshotMaxSize: (value, name) => {
    if (!/^\d+$/.test(value)) throw invalid(`parameter ${name}: "${value}" is not a size in bytes`);
    return { snapshotMaxSize: value };
  },
  replicaRebuildingBandwidthLimit: integer('replicaRebuildingBandwidthLimit', 0, 2 ** 31 - 1),
  fsType: (value, name) => {
    if (!(FILESYSTEMS as readonly string[]).includes(value))
      throw invalid(`parameter ${name}: "${value}" is not one of ${FILESYSTEMS.join(', ')}`);
    return undefined;
  },
  mkfsParams: nodeOnly,
  dataEngine: onlyValues(['v1'], 'longhorn-ts has the v1 data engine only'),
  fromBackup: (value, name) => {
    if (value === '') return undefined;
    const problem = backupUrlProblem(value);
    if (problem) throw invalid(`parameter ${name}: ${problem}`);
    return { fromBackup: value };
  },
  // The BackupTarget CR the volume's backups go to (Longhorn 1.8); empty: the "default" one.
  backupTargetName: (value, name) => {
    if (value === '') return undefined;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 63)
      throw invalid(`parameter ${name}: "${value}" is not a BackupTarget name (lower case, digits, '-')`);
    return { backupTargetName: value };
  },
  // The engine encrypts (AES-256-XTS); the key comes from the crypto Secret the StorageClass's
  // csi.storage.k8s.io/*-secret-* parameters name (operator README, "Encryption").
  encrypted: boolean('encrypted'),
  migratable: onlyValues(['false'], 'migratable (live migration) volumes are not available yet'),
  backingImage: onlyValues([''], 'backing images are not available yet'),
  // Recurring jobs are labels on the volume in Longhorn; the job controller does not exist yet.
  recurringJobSelector: nodeOnly,
  // QoS limits: longhorn-ts's own (README, "QoS"); Longhorn has none.
  ...QOS_PARAMETERS,
};

export const KNOWN_PARAMETERS = Object.keys(PARAMETERS);

/** Keys the external-provisioner adds (`--extra-create-metadata`) or reserves; never ours. */
const RESERVED_PREFIX = 'csi.storage.k8s.io/';

/** StorageClass parameters → Volume spec fields; unknown or bad ones are refused by name. */
export function parseParameters(parameters: Record<string, string>): ParsedParameters {
  const unknown = Object.keys(parameters).filter(
    (k) => !k.startsWith(RESERVED_PREFIX) && !Object.hasOwn(PARAMETERS, k),
  );
  if (unknown.length > 0) {
    throw invalid(
      `unknown StorageClass parameter${unknown.length > 1 ? 's' : ''} ${unknown.sort().join(', ')} ` +
        `(known: ${KNOWN_PARAMETERS.join(', ')})`,
    );
  }
  const spec: Partial<VolumeSpec> = {};
  const volumeContext: Record<string, string> = {};
  for (const [name, value] of Object.entries(parameters)) {
    if (name.startsWith(RESERVED_PREFIX)) continue;
    volumeContext[name] = value;
    const fields = PARAMETERS[name]!(value, name);
    // QoS parameters each add one limit to the same spec.qos.
    if (fields?.qos) spec.qos = { ...spec.qos, ...fields.qos };
    else Object.assign(spec, fields);
  }
  return { spec, volumeContext };
}
