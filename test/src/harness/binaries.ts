import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The binaries that test/harness/build-binaries.sh builds into the cache. */
export type BinaryName =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubectl'
  | 'kwok'
  | 'csi-sanity'
  | 'csi-provisioner'
  | 'csi-attacher'
  | 'csi-resizer'
  | 'csi-snapshotter'
  | 'snapshot-controller'
  | 'helm'
  | 'minio'
  | 'local-kms';

export const CORE_BINARIES: readonly BinaryName[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
];

/** Where builds, Go caches and binaries live: outside the repo, shared by every checkout. */
export function cacheDir(): string {
  return process.env.LONGHORN_TS_CACHE || join(homedir(), '.cache', 'longhorn-ts');
}

export function binDir(): string {
  return join(cacheDir(), 'bin');
}

/** kwok's node and pod Stages, copied from the kwok module by the build script. */
export function kwokStagesDir(): string {
  return join(cacheDir(), 'kwok-stages');
}

/** The VolumeSnapshot CRDs of external-snapshotter's client module, copied by the build script. */
export function volumeSnapshotCrdDir(): string {
  return join(cacheDir(), 'crds', 'volumesnapshot');
}

export class MissingBinaryError extends Error {
  readonly code = 'MISSING_BINARY';
  constructor(readonly binary: string) {
    super(`${binary} is not built: run \`bash test/harness/build-binaries.sh\` (looked in ${binDir()})`);
  }
}

export function hasBinary(name: BinaryName): boolean {
  try {
    accessSync(join(binDir(), name), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a built binary; throws MissingBinaryError with the command that builds it. */
export function binaryPath(name: BinaryName): string {
  if (!hasBinary(name)) throw new MissingBinaryError(name);
  return join(binDir(), name);
}
