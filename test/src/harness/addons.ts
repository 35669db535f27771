import { volumeSnapshotCrdDir } from './binaries.js';
import type { Kubectl } from './kubectl.js';

const VOLUME_SNAPSHOT_CRDS = [
  'volumesnapshotclasses.snapshot.storage.k8s.io',
  'volumesnapshotcontents.snapshot.storage.k8s.io',
  'volumesnapshots.snapshot.storage.k8s.io',
];

/**
 * Installs the VolumeSnapshot CRDs (from external-snapshotter's client module, at the version the
 * sidecars were built from) and waits until they are served.
 */
export async function installVolumeSnapshotCrds(kubectl: Kubectl, timeoutMs = 30_000): Promise<void> {
  await kubectl.applyFile(volumeSnapshotCrdDir());
  for (const crd of VOLUME_SNAPSHOT_CRDS) {
    await kubectl.waitForCondition(`crd/${crd}`, 'Established', { timeoutMs });
  }
}
