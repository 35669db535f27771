/**
 * CSI PVC benchmark (issue 9): on a 3-node local cluster with longhorn-ts and its CSI driver,
 *   1. N PVCs (default 20) of StorageClass `longhorn` created at once: seconds until all are
 *      Bound (external-provisioner → CreateVolume → Volume CRs);
 *   2. then N Pods, one per PVC, created at once: seconds until every pod is Ready, i.e. its
 *      volume attached (attach-detach controller → external-attacher → engine) and staged and
 *      published by the node's kubelet stand-in (nbdfuse + loop + ext4 mounted);
 *   3. everything deleted: seconds until no pod, PVC, PV or Longhorn Volume is left, and no
 *      mount or loop device under the cluster's directory.
 *
 *   npx tsx test/bench/csi-pvcs.ts [--pvcs 20] [--pods 20] [--size 64Mi] [--keep]
 * (run `npx tsc -b` first: the cluster runs the compiled components; `--pods 0` measures the
 * PVCs alone). Prints a summary and JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster } from '../src/harness/cluster.js';
import { loopDevicesUnder, mountsUnder } from '../src/harness/host-cleanup.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { csiAvailable } from '../src/harness/longhorn-csi.js';
import { LH } from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

const { values } = parseArgs({
  options: {
    pvcs: { type: 'string', default: '20' },
    pods: { type: 'string', default: '20' },
    size: { type: 'string', default: '64Mi' },
    keep: { type: 'boolean', default: false },
  },
});
const pvcs = Number(values.pvcs);
const pods = Math.min(pvcs, Number(values.pods));
if (!Number.isInteger(pvcs) || pvcs < 1 || !Number.isInteger(pods) || pods < 0) {
  console.error(`--pvcs must be a positive integer and --pods 0..pvcs (got ${values.pvcs}, ${values.pods})`);
  process.exit(2);
}
if (!csiAvailable()) {
  console.error(
    'the CSI driver or its sidecars are not built: `npx tsc -b` and test/harness/build-binaries.sh',
  );
  process.exit(2);
}

const NS = 'default';
interface Pvc extends KubeObject {
  status?: { phase?: string };
}
interface Pod extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

const names = Array.from({ length: pvcs }, (_, i) => `bench-${String(i).padStart(2, '0')}`);
const pvcYaml = (n: string) => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${n}, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: ${values.size}}}
`;
const podYaml = (n: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${n}, namespace: ${NS}}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${n}}}]
`;
const seconds = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

const dir = await mkdtemp(join(tmpdir(), 'lh-bench-pvcs-'));
const cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 180_000 });
const k = cluster.kubectl;
let exitCode = 0;
try {
  const t0 = Date.now();
  await k.run(['apply', '-f', '-'], { input: names.map(pvcYaml).join('---\n') });
  let bound = 0;
  await waitFor(
    `${pvcs} PVCs Bound`,
    async () => {
      const list = await k.list<Pvc>('pvc', NS);
      bound = list.filter((p) => p.status?.phase === 'Bound').length;
      return bound >= pvcs;
    },
    { timeoutMs: 600_000, maxIntervalMs: 500 },
  );
  const boundS = seconds(t0);
  console.log(`${pvcs} PVCs created at once: all Bound after ${boundS} s`);

  let readyS: number | undefined;
  if (pods > 0) {
    const t1 = Date.now();
    await k.run(['apply', '-f', '-'], { input: names.slice(0, pods).map(podYaml).join('---\n') });
    await waitFor(
      `${pods} pods Ready (volumes mounted)`,
      async () => {
        const list = await k.list<Pod>('pods', NS);
        const ready = list.filter((p) =>
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length >= pods;
      },
      { timeoutMs: 900_000, maxIntervalMs: 1000 },
    );
    readyS = seconds(t1);
    const mounts = (await mountsUnder(dir)).filter((m) => m.includes('/pods/')).length;
    console.log(
      `${pods} pods created at once: all Ready (file system mounted) after ${readyS} s; pod mounts: ${mounts}`,
    );
    if (mounts < pods) throw new Error(`only ${mounts} pod mounts for ${pods} Ready pods`);
  }

  const t2 = Date.now();
  await k.run(['delete', 'pods', '--all', '-n', NS, '--wait=true', '--timeout=600s'], { timeoutMs: 620_000 });
  await k.run(['delete', 'pvc', '--all', '-n', NS, '--wait=true', '--timeout=600s'], { timeoutMs: 620_000 });
  await waitFor(
    'every PV and Longhorn Volume to go',
    async () =>
      (await k.list('pv')).length === 0 && (await k.list(LH.volumes, 'longhorn-system')).length === 0,
    { timeoutMs: 600_000, maxIntervalMs: 1000 },
  );
  const cleanS = seconds(t2);
  const left = [...(await mountsUnder(dir)), ...(await loopDevicesUnder(dir))];
  console.log(`everything deleted after ${cleanS} s; mounts and loop devices left: ${left.length}`);
  if (left.length > 0) throw new Error(`left behind: ${left.join('; ')}`);
  console.log(JSON.stringify({ pvcs, pods, size: values.size, boundS, readyS, cleanS }, null, 2));
} catch (err) {
  exitCode = 1;
  console.error(err instanceof Error ? err.message : String(err));
  console.error(await cluster.logTails(20));
} finally {
  await cluster.stop();
  if (!values.keep) await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
