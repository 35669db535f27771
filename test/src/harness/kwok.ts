import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { binaryPath, kwokStagesDir } from './binaries.js';
import { probeOk } from './http-probe.js';
import { ManagedProcess } from './managed-process.js';
import { waitForReady } from './readiness.js';

/** Nodes with this annotation are the ones kwok plays the kubelet for. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export interface KwokOptions {
  kubeconfig: string;
  port: number;
  logDir: string;
  configFile: string;
  /** Pod IPs are taken from here. */
  podCidr?: string;
  /**
   * Pods with persistent volumes turn Running only once this annotation is "true" (the kubelet
   * stand-in sets it when their volumes are mounted, as a pod is Ready only after its mounts).
   */
  volumesMountedAnnotation?: string;
  outliveParent?: boolean;
  timeoutMs?: number;
  /** Called right after the spawn, before readiness, so a failed start can still be torn down. */
  onSpawn?: (proc: ManagedProcess) => unknown;
}

/**
 * kwok's selector (a jq expression) for pods that may turn Running: no volume a kubelet would
 * have to mount (PVC, generic ephemeral, CSI inline), or the annotation says they are mounted.
 */
export function volumesMountedSelector(annotation: string): string {
  return (
    '([.spec.volumes[]? | select(.persistentVolumeClaim != null or .ephemeral != null or .csi != null)] | length == 0)' +
    ` or (.metadata.annotations["${annotation}"] == "true")`
  );
}

/** The pod-ready Stage with one more requirement: the pod's volumes are mounted. */
export function gatePodReady(stageYaml: string, annotation: string): string {
  const doc = parseDocument(stageYaml);
  if (doc.getIn(['metadata', 'name']) !== 'pod-ready') return stageYaml;
  const expressions = doc.getIn(['spec', 'selector', 'matchExpressions']);
  if (!expressions || typeof (expressions as { add?: unknown }).add !== 'function')
    throw new Error('kwok stage pod-ready has no spec.selector.matchExpressions');
  (expressions as { add(v: unknown): void }).add(
    doc.createNode({ key: volumesMountedSelector(annotation), operator: 'In', values: ['true'] }),
  );
  return doc.toString();
}

/** kwok's fast node/pod Stages (built from the kwok module) as one multi-document config. */
export async function kwokStagesConfig(volumesMountedAnnotation?: string): Promise<string> {
  const dir = kwokStagesDir();
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  if (files.length === 0) throw new Error(`no kwok stages in ${dir}: run test/harness/build-binaries.sh`);
  const docs = await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')));
  return docs
    .map((d) => (volumesMountedAnnotation ? gatePodReady(d, volumesMountedAnnotation) : d).trim())
    .join('\n---\n');
}

/**
 * kwok as the kubelet of every node annotated `kwok.x-k8s.io/node: fake`: nodes turn Ready and
 * keep their Lease fresh, pods bound to them turn Running.
 */
export async function startKwok(options: KwokOptions): Promise<ManagedProcess> {
  await writeFile(options.configFile, `${await kwokStagesConfig(options.volumesMountedAnnotation)}\n`);
  const proc = ManagedProcess.start({
    name: 'kwok',
    command: binaryPath('kwok'),
    args: [
      `--kubeconfig=${options.kubeconfig}`,
      `--config=${options.configFile}`,
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      '--manage-all-nodes=false',
      `--server-address=127.0.0.1:${options.port}`,
      `--cidr=${options.podCidr ?? '10.244.0.0/16'}`,
      '--node-ip=127.0.0.1',
      '--node-lease-duration-seconds=40',
    ],
    logFile: join(options.logDir, 'kwok.log'),
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  await waitForReady(
    'kwok',
    proc,
    () => probeOk(`http://127.0.0.1:${options.port}/healthz`),
    options.timeoutMs ?? 60_000,
  );
  return proc;
}
