import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { installVolumeSnapshotCrds } from './addons.js';
import { binaryPath, hasBinary } from './binaries.js';
import type { Kubectl } from './kubectl.js';
import { ManagedProcess } from './managed-process.js';
import { REGION_LABEL, ZONE_LABEL } from './node-specs.js';
import { logOffset, waitForReadyLine } from './ready-line.js';
import type { SimulatedNode } from './simulated-node.js';

/** The CSI driver's entry (csi workspace, compiled). */
export const CSI_ENTRY = fileURLToPath(new URL('../../../csi/dist/main.js', import.meta.url));

/** The sidecars the CSI controller runs beside the driver, and the snapshot-controller. */
export const CSI_CONTROLLER_BINARIES = [
  'csi-provisioner',
  'csi-attacher',
  'csi-resizer',
  'csi-snapshotter',
  'snapshot-controller',
] as const;

/** What the driver prints once it serves. */
export interface CsiReady {
  csi: string;
  pid: number;
}

/** The StorageClass `longhorn` as Longhorn's chart installs it (default class, expansion allowed). */
export const LONGHORN_STORAGE_CLASS = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: {
    name: 'longhorn',
    annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
  },
  provisioner: CSI_DRIVER_NAME,
  allowVolumeExpansion: true,
  reclaimPolicy: 'Delete',
  volumeBindingMode: 'Immediate',
  parameters: {
    numberOfReplicas: '3',
    staleReplicaTimeout: '30',
    fromBackup: '',
    fsType: 'ext4',
    dataLocality: 'disabled',
    unmapMarkSnapChainRemoved: 'ignored',
    disableRevisionCounter: 'true',
    dataEngine: 'v1',
    backupTargetName: 'default',
  },
};

/** Longhorn's documented VolumeSnapshotClasses: an in-cluster snapshot, and a backup. */
export const LONGHORN_SNAPSHOT_CLASSES = [
  { name: 'longhorn-snapshot-vsc', type: 'snap' },
  { name: 'longhorn-backup-vsc', type: 'bak' },
].map(({ name, type }) => ({
  apiVersion: 'snapshot.storage.k8s.io/v1',
  kind: 'VolumeSnapshotClass',
  metadata: { name },
  driver: CSI_DRIVER_NAME,
  deletionPolicy: 'Delete',
  parameters: { type },
}));

/** The CSIDriver object as Longhorn ships it. */
export const LONGHORN_CSI_DRIVER = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'CSIDriver',
  metadata: { name: CSI_DRIVER_NAME },
  spec: {
    attachRequired: true,
    podInfoOnMount: true,
    fsGroupPolicy: 'ReadWriteOnceWithFSType',
    volumeLifecycleModes: ['Persistent'],
  },
};

/** Whether the CSI controller can run here (driver built, sidecars built). */
export function csiAvailable(): boolean {
  return existsSync(CSI_ENTRY) && CSI_CONTROLLER_BINARIES.every((b) => hasBinary(b));
}

/** A node plugin's socket, under the node's data directory as kubelet's plugins directory. */
export function nodePluginSocket(node: SimulatedNode): string {
  return join(node.dataDir, 'plugins', CSI_DRIVER_NAME, 'csi.sock');
}

interface ControllerOptions {
  kubectl: Kubectl;
  kubeconfig: string;
  /** The cluster's directory: the controller's socket goes to DIR/run/csi/. */
  dir: string;
  logDir: string;
  outliveParent?: boolean;
  timeoutMs?: number;
  onSpawn?: (proc: ManagedProcess) => unknown;
}

/** Starts the driver on a socket and waits for its ready line. */
async function startDriverProcess(
  start: (args: string[], logFile: string) => Promise<ManagedProcess>,
  args: string[],
  logFile: string,
  what: string,
  timeoutMs: number,
): Promise<ManagedProcess> {
  const offset = await logOffset(logFile);
  const proc = await start([CSI_ENTRY, ...args], logFile);
  await waitForReadyLine<CsiReady>(what, proc, ['csi', 'pid'], { offset, timeoutMs });
  return proc;
}

/**
 * The CSI controller: the CSIDriver object, the VolumeSnapshot CRDs, StorageClass `longhorn`
 * and the VolumeSnapshotClasses, the driver in controller mode, and the real sidecars
 * (external-provisioner, -attacher, -resizer, -snapshotter) plus the snapshot-controller, each
 * its own process with a log in DIR/logs.
 */
export async function startCsiController(options: ControllerOptions): Promise<ManagedProcess[]> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const outliveParent = options.outliveParent ?? false;
  await installVolumeSnapshotCrds(options.kubectl, timeoutMs);
  await options.kubectl.apply([LONGHORN_CSI_DRIVER, LONGHORN_STORAGE_CLASS, ...LONGHORN_SNAPSHOT_CLASSES]);
  const socket = join(options.dir, 'run', 'csi', 'controller.sock');
  const env = { ...process.env, KUBECONFIG: options.kubeconfig };
  const spawn = async (name: string, command: string, args: string[], logFile: string) => {
    const proc = ManagedProcess.start({ name, command, args, env, logFile, outliveParent });
    await options.onSpawn?.(proc);
    return proc;
  };
  const driver = await startDriverProcess(
    (args, logFile) => spawn('csi-controller', process.execPath, args, logFile),
    ['--endpoint', `unix://${socket}`, '--node-id', 'csi-controller', '--mode', 'controller'],
    join(options.logDir, 'csi-controller.log'),
    'the CSI controller',
    timeoutMs,
  );
  const common = [`--kubeconfig=${options.kubeconfig}`, '--leader-election=false'];
  const csi = [`--csi-address=${socket}`, ...common];
  const sidecars: [string, string[]][] = [
    // Topology off: the nodes' CSINode objects carry the keys, but Longhorn places replicas itself.
    ['csi-provisioner', [...csi, '--timeout=120s', '--extra-create-metadata', '--default-fstype=ext4']],
    ['csi-attacher', [...csi, '--timeout=120s']],
    ['csi-resizer', [...csi, '--timeout=120s', '--handle-volume-inuse-error=false']],
    ['csi-snapshotter', [...csi, '--timeout=120s']],
    ['snapshot-controller', common],
  ];
  const procs = [driver];
  for (const [name, args] of sidecars) {
    procs.push(
      await spawn(name, binaryPath(name as 'csi-attacher'), args, join(options.logDir, `${name}.log`)),
    );
  }
  return procs;
}

/**
 * A node plugin on a simulated node (one of the node's processes: killing the node kills it),
 * then what kubelet's plugin registration does: a CSINode entry with the driver's node id and
 * topology keys, and the node annotations that let the controller-manager's attach-detach
 * controller create storage.k8s.io VolumeAttachments for it.
 */
export async function startCsiNodePlugin(
  node: SimulatedNode,
  kubectl: Kubectl,
  timeoutMs = 60_000,
): Promise<ManagedProcess> {
  const proc = await startDriverProcess(
    (args) => node.start({ name: 'csi-plugin', command: process.execPath, args }),
    ['--endpoint', `unix://${nodePluginSocket(node)}`, '--node-id', node.name, '--mode', 'node'],
    node.logFile('csi-plugin'),
    `${node.name}'s CSI node plugin`,
    timeoutMs,
  );
  await kubectl.apply({
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSINode',
    metadata: { name: node.name },
    spec: {
      drivers: [{ name: CSI_DRIVER_NAME, nodeID: node.name, topologyKeys: [ZONE_LABEL, REGION_LABEL] }],
    },
  });
  await kubectl.run([
    'annotate',
    '--overwrite',
    `node/${node.name}`,
    `csi.volume.kubernetes.io/nodeid=${JSON.stringify({ [CSI_DRIVER_NAME]: node.name })}`,
    'volumes.kubernetes.io/controller-managed-attach-detach=true',
  ]);
  return proc;
}
