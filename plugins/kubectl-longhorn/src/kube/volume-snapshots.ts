/**
 * VolumeSnapshots of the CSI driver and the Longhorn snapshots behind them (pure). The driver
 * answers CreateSnapshot with the id `snap://<volume>/<snapshot>` (Longhorn's data source form),
 * which the snapshotter stores as the VolumeSnapshotContent's status.snapshotHandle; the content
 * names its VolumeSnapshot in spec.volumeSnapshotRef. So a content of driver.longhorn.io with a
 * `snap://` handle says which VolumeSnapshot a Snapshot CR belongs to.
 */
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';

export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
export const SNAPSHOT_VERSION = 'v1';
const DEFAULT_CLASS_ANNOTATION = 'snapshot.storage.kubernetes.io/is-default-class';

export interface VolumeSnapshot {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec: {
    volumeSnapshotClassName?: string;
    source: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string };
  };
  status?: {
    boundVolumeSnapshotContentName?: string;
    readyToUse?: boolean;
    error?: { message?: string };
  };
}

export interface VolumeSnapshotContent {
  metadata: { name: string };
  spec: {
    driver: string;
    deletionPolicy?: string;
    volumeSnapshotRef?: { namespace?: string; name?: string };
    source?: { volumeHandle?: string; snapshotHandle?: string };
  };
  status?: { snapshotHandle?: string; readyToUse?: boolean };
}

export interface VolumeSnapshotClass {
  metadata: { name: string; annotations?: Record<string, string> };
  driver: string;
  parameters?: Record<string, string>;
}

/** The VolumeSnapshot a Longhorn snapshot belongs to. */
export interface SnapshotOwner {
  /** `namespace/name` of the VolumeSnapshot. */
  volumeSnapshot: string;
  namespace: string;
  name: string;
  content: string;
  /** The content's deletionPolicy: with Retain, deleting the VolumeSnapshot keeps the snapshot. */
  deletionPolicy: string;
}

/** `snap://<volume>/<snapshot>` → its parts; anything else (a backup's `bak://`) → undefined. */
export function parseSnapHandle(
  handle: string | undefined,
): { volume: string; snapshot: string } | undefined {
  const m = /^snap:\/\/([^/]+)\/([^/]+)$/.exec(handle ?? '');
  return m ? { volume: m[1]!, snapshot: m[2]! } : undefined;
}

/** Longhorn snapshot name → its VolumeSnapshot, for the snapshots of `volume`. */
export function snapshotOwners(
  contents: readonly VolumeSnapshotContent[],
  volume: string,
): Map<string, SnapshotOwner> {
  const out = new Map<string, SnapshotOwner>();
  for (const c of contents) {
    if (c.spec.driver !== CSI_DRIVER_NAME) continue;
    const handle = parseSnapHandle(c.status?.snapshotHandle ?? c.spec.source?.snapshotHandle);
    if (handle === undefined || handle.volume !== volume) continue;
    const namespace = c.spec.volumeSnapshotRef?.namespace ?? '';
    const name = c.spec.volumeSnapshotRef?.name ?? '';
    if (name === '') continue;
    out.set(handle.snapshot, {
      volumeSnapshot: `${namespace}/${name}`,
      namespace,
      name,
      content: c.metadata.name,
      deletionPolicy: c.spec.deletionPolicy ?? 'Delete',
    });
  }
  return out;
}

/** `ns/name` or `name` (namespace `default`, as kubectl's default context namespace). */
export function parseNamespacedName(
  text: string,
  defaultNamespace = 'default',
): { namespace: string; name: string } | undefined {
  const parts = text.split('/');
  const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (parts.length === 1 && dns.test(parts[0]!)) return { namespace: defaultNamespace, name: parts[0]! };
  if (parts.length === 2 && dns.test(parts[0]!) && dns.test(parts[1]!)) {
    return { namespace: parts[0]!, name: parts[1]! };
  }
  return undefined;
}

/**
 * The class for an in-cluster snapshot: the named one (which must be this driver's, type
 * `snap`), else this driver's default `snap` class, else its only `snap` class. A string says why
 * there is none.
 */
export function pickSnapshotClass(
  classes: readonly VolumeSnapshotClass[],
  named?: string,
): string | { error: string; code: 'NOT_FOUND' | 'USAGE' | 'FAILED' } {
  const ours = classes.filter((c) => c.driver === CSI_DRIVER_NAME);
  // Longhorn reads a class without parameters as a backup class ("bak").
  const isSnap = (c: VolumeSnapshotClass) => c.parameters?.type === 'snap';
  if (named !== undefined) {
    const c = classes.find((x) => x.metadata.name === named);
    if (c === undefined) return { error: `VolumeSnapshotClass "${named}" not found`, code: 'NOT_FOUND' };
    if (c.driver !== CSI_DRIVER_NAME) {
      return {
        error: `VolumeSnapshotClass ${named} belongs to driver ${c.driver}, not ${CSI_DRIVER_NAME}`,
        code: 'USAGE',
      };
    }
    if (!isSnap(c)) {
      return {
        error: `VolumeSnapshotClass ${named} makes backups (type ${c.parameters?.type ?? 'bak'}), not snapshots; use a class with parameters.type snap`,
        code: 'USAGE',
      };
    }
    return named;
  }
  const snaps = ours.filter(isSnap);
  const dflt = snaps.find((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  if (dflt !== undefined) return dflt.metadata.name;
  if (snaps.length === 1) return snaps[0]!.metadata.name;
  if (snaps.length === 0) {
    return {
      error: `no VolumeSnapshotClass of ${CSI_DRIVER_NAME} with parameters.type snap; create one or pass --class`,
      code: 'FAILED',
    };
  }
  return {
    error: `several VolumeSnapshotClasses of ${CSI_DRIVER_NAME} make snapshots (${snaps.map((c) => c.metadata.name).join(', ')}); pass --class`,
    code: 'FAILED',
  };
}

export function volumeSnapshotObject(
  name: string,
  namespace: string,
  pvc: string,
  className: string,
): VolumeSnapshot {
  return {
    apiVersion: `${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION}`,
    kind: 'VolumeSnapshot',
    metadata: { name, namespace },
    spec: { volumeSnapshotClassName: className, source: { persistentVolumeClaimName: pvc } },
  };
}

/** The message for deleting a snapshot that a VolumeSnapshot owns without going through it. */
export function ownedSnapshotRefusal(snapshot: string, owner: SnapshotOwner): string {
  return (
    `snapshot ${snapshot} belongs to VolumeSnapshot ${owner.volumeSnapshot}: delete it through the VolumeSnapshot ` +
    `(kubectl delete volumesnapshot -n ${owner.namespace} ${owner.name}, or add --volume-snapshot to this command)`
  );
}
