import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { CSI_DRIVER_NAME, NAMESPACE } from '@longhorn-ts/api';
import { binaryPath } from '../harness/binaries.js';
import { readClusterState } from '../harness/cluster-state.js';
import { Kubectl } from '../harness/kubectl.js';
import { kubeletPaths } from '../harness/kubelet-csi.js';
import { listDataPlaneProcesses } from '../harness/longhorn-system.js';
import { applyYaml, getVolume, LH, waitForEndpoint } from '../harness/longhorn-volumes.js';

const exec = promisify(execFile);
/** The Longhorn-API volume of the tour before it became a PVC tour (removed when found). */
const OLD_VOLUME = 'tour-vol';
const OLD_SNAPSHOT = 'tour-snap-1';
const PVC = 'tour-data';
const POD = 'tour-app';
const VOLUME_SNAPSHOT = 'tour-snap';
const RESTORED = 'tour-restored';
const READER = 'tour-reader';
const BACKUP = 'tour-backup';
const FROM_BACKUP = 'tour-from-backup';
const BACKUP_READER = 'tour-backup-reader';
const NS = 'default';

function show(command: string): void {
  console.log(`\n$ ${command}`);
}

async function runShown(cmd: string, args: string[]): Promise<string> {
  show(`${cmd} ${args.map((a) => (/[\s']/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const { stdout } = await exec(cmd, args, { timeout: 120_000 });
  if (stdout.trim()) console.log(stdout.trimEnd());
  return stdout;
}

async function kubectlShown(kubectl: Kubectl, args: string[]): Promise<void> {
  show(`kubectl ${args.join(' ')}`);
  console.log((await kubectl.run(args)).trimEnd());
}

/** `kubectl longhorn ...` through the real kubectl, the plugin's directory on PATH. */
async function pluginShown(kubeconfig: string, args: string[]): Promise<void> {
  show(`kubectl longhorn ${args.join(' ')}`);
  const { stdout } = await exec(binaryPath('kubectl'), ['longhorn', ...args], {
    timeout: 120_000,
    env: { ...process.env, KUBECONFIG: kubeconfig, PATH: `${PLUGIN_BIN}:${process.env.PATH ?? ''}` },
  });
  console.log(stdout.trimEnd());
}

const PLUGIN_BIN = fileURLToPath(new URL('../../../plugins/kubectl-longhorn/bin', import.meta.url));

async function applyShown(kubectl: Kubectl, yaml: string): Promise<void> {
  show(`kubectl apply -f - <<EOF\n${yaml}EOF`);
  console.log((await applyYaml(kubectl, yaml)).trimEnd());
}

/** What an earlier tour left on the same cluster goes first (pods, claims, snapshot, old volume). */
async function removeEarlierTour(kubectl: Kubectl): Promise<void> {
  const del = (args: string[]) =>
    kubectl.run(['delete', ...args, '--ignore-not-found', '--wait=true', '--timeout=120s'], {
      timeoutMs: 130_000,
    });
  if (await kubectl.tryGet('pvc', PVC, NS)) {
    console.log('removing what an earlier tour left ...');
    await del(['pod', '-n', NS, POD, READER, BACKUP_READER]);
    await del(['volumesnapshot', '-n', NS, VOLUME_SNAPSHOT, BACKUP]);
    await del(['pvc', '-n', NS, PVC, RESTORED, FROM_BACKUP]);
  }
  if (!(await getVolume(kubectl, OLD_VOLUME))) return;
  await kubectl.run(['delete', LH.snapshots, '-n', NAMESPACE, '--ignore-not-found', OLD_SNAPSHOT]);
  await kubectl.run(['delete', LH.attachments, '-n', NAMESPACE, '--ignore-not-found', OLD_VOLUME]);
  await del([LH.volumes, '-n', NAMESPACE, OLD_VOLUME]);
}

const pvcYaml = (name: string, dataSource?: string) => `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources:
    requests:
      storage: 64Mi
${dataSource ? `  dataSource:\n    apiGroup: snapshot.storage.k8s.io\n    kind: VolumeSnapshot\n    name: ${dataSource}\n` : ''}`;

const podYaml = (name: string, claim: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  containers:
  - name: app
    image: busybox
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: ${claim}
`;

interface TourPod {
  metadata: { uid: string };
  spec: { nodeName?: string };
}

/** Where the node's kubelet stand-in mounted the pod's volume (kubelet's path, the node's data dir). */
async function podMount(kubectl: Kubectl, dir: string, pod: string, claim: string): Promise<string> {
  const p = await kubectl.get<TourPod>('pod', pod, NS);
  const pvName = (await kubectl.get<{ spec: { volumeName: string } }>('pvc', claim, NS)).spec.volumeName;
  return kubeletPaths(join(dir, 'nodes', p.spec.nodeName!), {
    driverName: CSI_DRIVER_NAME,
    pvName,
    volumeHandle: pvName,
    podUid: p.metadata.uid,
    accessType: 'mount',
  }).targetPath;
}

/** A VolumeSnapshot of the tour's PVC in `className`, waited for until readyToUse. */
async function volumeSnapshotShown(kubectl: Kubectl, name: string, className: string, timeoutS: number) {
  await applyShown(
    kubectl,
    `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  volumeSnapshotClassName: ${className}
  source:
    persistentVolumeClaimName: ${PVC}
`,
  );
  await kubectlShown(kubectl, [
    'wait',
    '-n',
    NS,
    `volumesnapshot/${name}`,
    '--for=jsonpath={.status.readyToUse}=true',
    `--timeout=${timeoutS}s`,
  ]);
}

/** A PVC from the VolumeSnapshot, a pod on it, and the file read back from the pod's mount. */
async function readBackShown(
  kubectl: Kubectl,
  dir: string,
  claim: string,
  snapshot: string,
  pod: string,
  text: string,
): Promise<void> {
  await applyShown(kubectl, pvcYaml(claim, snapshot));
  await applyShown(kubectl, podYaml(pod, claim));
  await kubectlShown(kubectl, ['wait', '-n', NS, `pod/${pod}`, '--for=condition=Ready', '--timeout=300s']);
  const mount = await podMount(kubectl, dir, pod, claim);
  const back = await runShown('cat', [join(mount, 'hello.txt')]);
  if (back !== text)
    throw new Error(`PVC ${claim} holds ${JSON.stringify(back)}, not ${JSON.stringify(text)}`);
}

/**
 * `longhorn-local cluster tour --dir DIR [--once]`: on a cluster started by `cluster up`, what a
 * user does: StorageClass longhorn, a PVC, a Pod that uses it (its volume mounted by the node's
 * kubelet stand-in), a file written into the real mount, a VolumeSnapshot, a PVC restored from
 * it holding the same file, a backup to the cluster's MinIO and a PVC restored from it, and the
 * objects as kubectl and the kubectl plugin show them. Without
 * --once it then waits for Ctrl-C (the pods keep their volumes mounted).
 */
export async function tour(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { dir: { type: 'string' }, once: { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.dir) throw new Error('cluster tour needs --dir DIR (a cluster started by `cluster up`)');
  const dir = resolve(values.dir);
  const state = await readClusterState(dir);
  if (!state?.ready)
    throw new Error(`no running cluster in ${dir}: start one with \`cluster up --dir ${dir}\``);
  if (!state.longhorn) throw new Error(`the cluster in ${dir} runs without longhorn-ts (--no-longhorn)`);
  const kubectl = new Kubectl(state.kubeconfig);
  if (!(await kubectl.tryGet('storageclass', 'longhorn')))
    throw new Error(`the cluster in ${dir} runs without the CSI driver (StorageClass longhorn is missing)`);
  console.log(`export KUBECONFIG=${state.kubeconfig}`);

  await kubectlShown(kubectl, ['-n', NAMESPACE, 'get', 'lhn']);
  await removeEarlierTour(kubectl);

  // 1. The StorageClass Longhorn's chart installs, and the snapshot classes.
  await kubectlShown(kubectl, ['get', 'storageclass,volumesnapshotclass']);

  // 2. A PVC: the external-provisioner asks the CSI driver, which makes a Longhorn Volume.
  await applyShown(kubectl, pvcYaml(PVC));
  await kubectlShown(kubectl, [
    'wait',
    '-n',
    NS,
    `pvc/${PVC}`,
    '--for=jsonpath={.status.phase}=Bound',
    '--timeout=120s',
  ]);
  const pvName = (await kubectl.get<{ spec: { volumeName: string } }>('pvc', PVC, NS)).spec.volumeName;

  // 3. A Pod that uses it: attached by the attach-detach controller and the external-attacher,
  // staged and published by the node's kubelet stand-in; Ready once ext4 is mounted.
  await applyShown(kubectl, podYaml(POD, PVC));
  await kubectlShown(kubectl, ['wait', '-n', NS, `pod/${POD}`, '--for=condition=Ready', '--timeout=180s']);
  await kubectlShown(kubectl, ['get', '-n', NS, 'pod', POD, '-o', 'wide']);

  // 4. A file written into the real mount (where kubelet would have mounted it for the container).
  const mount = await podMount(kubectl, dir, POD, PVC);
  console.log(`\nthe pod's /data is ${mount}`);
  await runShown('findmnt', [mount]);
  const text = `hello from ${POD}, written at ${new Date().toISOString()}\n`;
  show(`echo '${text.trimEnd()}' > ${join(mount, 'hello.txt')}`);
  await writeFile(join(mount, 'hello.txt'), text);
  await runShown('sync', ['-f', join(mount, 'hello.txt')]);

  // 5. A VolumeSnapshot (class longhorn-snapshot-vsc: a Longhorn snapshot in the cluster).
  await volumeSnapshotShown(kubectl, VOLUME_SNAPSHOT, 'longhorn-snapshot-vsc', 120);

  // 6. A PVC restored from it, and a pod reading the file back from its own mount.
  await readBackShown(kubectl, dir, RESTORED, VOLUME_SNAPSHOT, READER, text);
  console.log('(the same bytes as written into the first PVC before the snapshot)');

  // 7. A backup (class longhorn-backup-vsc, Longhorn's default kind of VolumeSnapshot) to the
  // backup target `cluster up` set: its MinIO. Then a PVC from the backup: restored from MinIO.
  const target = await kubectl.tryGet<{ spec?: { backupTargetURL?: string } }>(
    LH.backupTargets,
    'default',
    NAMESPACE,
  );
  if (target?.spec?.backupTargetURL) {
    await volumeSnapshotShown(kubectl, BACKUP, 'longhorn-backup-vsc', 300);
    await kubectlShown(kubectl, ['-n', NAMESPACE, 'get', 'lhbt,lhbv,lhb']);
    await readBackShown(kubectl, dir, FROM_BACKUP, BACKUP, BACKUP_READER, text);
    console.log('(the same bytes, this time from the backup store)');
    await pluginShown(state.kubeconfig, ['backup', 'list']);
  } else {
    console.log('\n(no backup target: MinIO is not built here; the backup steps are left out)');
  }

  // 8. The objects, as kubectl shows them, and the Longhorn CRs behind them.
  await kubectlShown(kubectl, ['get', '-n', NS, 'pvc,pv,volumesnapshot']);
  await kubectlShown(kubectl, ['-n', NAMESPACE, 'get', 'lhv,lhe,lhr,lhsnap']);

  // 9. The same through the kubectl plugin (kubectl finds kubectl-longhorn on PATH).
  await pluginShown(state.kubeconfig, ['volume', 'list']);
  await pluginShown(state.kubeconfig, ['volume', 'get', pvName]);

  // 10. The engine serves the volume over NBD, as any NBD client sees it (read-only look).
  const uri = await waitForEndpoint(kubectl, pvName);
  console.log(
    `\nthe engine of ${pvName} serves ${uri} (the node's lh-nbdfuse + loop device under the mount)`,
  );
  await runShown('nbdinfo', ['--size', uri]);

  console.log('\nwhat the instance managers run (`longhorn-local cluster status` shows the same):');
  for (const spec of state.nodes) {
    const address = state.longhorn[spec.name]?.instanceManager;
    if (!address) continue;
    const processes = await listDataPlaneProcesses(address).catch(() => []);
    for (const p of processes)
      console.log(`  ${spec.name}  ${p.kind.padEnd(14)}  pid ${p.pid}  ${p.state}  ${p.name}`);
  }

  if (values.once) return 0;
  console.log(`\nthe pods keep their volumes mounted: try  ls ${mount}`);
  console.log(
    `  kubectl get pvc,pv,volumesnapshot; kubectl -n ${NAMESPACE} get lhv,lhe,lhr,lhsnap,lhva     (KUBECONFIG as above)`,
  );
  console.log(`  kubectl delete pod ${POD} ${READER}      (the stand-ins unmount, the volumes detach)`);
  console.log('Ctrl-C stops it.');
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  return 0;
}
