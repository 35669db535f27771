import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { CsiClient } from '@longhorn-ts/csi';
import { BoundedKubeConfig } from '@longhorn-ts/kube-runtime';
import { pino } from 'pino';
import { KubeletStandin } from './kubelet-standin.js';

// node test/dist/harness/kubelet-standin-main.js [--node NAME] [--kubelet-dir DIR] [--csi-socket PATH]
// One per simulated node (NODE_NAME, NODE_DATA_DIR and KUBECONFIG from the node's environment).
// Prints {"kubeletStandin": NODE, "pid": N} once its caches synced.
const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    'kubelet-dir': { type: 'string' },
    'csi-socket': { type: 'string' },
    driver: { type: 'string', default: CSI_DRIVER_NAME },
  },
});

function fail(message: string): never {
  process.stderr.write(`kubelet-standin: ${message}\n`);
  process.exit(2);
}

const nodeName = values.node ?? process.env.NODE_NAME ?? fail('--node (or NODE_NAME) is required');
const kubeletDir =
  values['kubelet-dir'] ?? process.env.NODE_DATA_DIR ?? fail('--kubelet-dir (or NODE_DATA_DIR) is required');
const driverName = values.driver!;
const socket = values['csi-socket'] ?? join(kubeletDir, 'plugins', driverName, 'csi.sock');
if (!process.env.KUBECONFIG) fail('KUBECONFIG is required');

const log = pino(
  { level: process.env.LOG_LEVEL ?? 'info', base: { component: 'kubelet-standin', node: nodeName } },
  pino.destination(2),
);
// Every API call bounded: a call that never returns would hold one of the 4 workers for good.
const kubeConfig = new BoundedKubeConfig(30_000);
kubeConfig.loadFromFile(process.env.KUBECONFIG);
const client = new CsiClient(`unix://${socket}`);
const csi = { ...client, nodeExpandVolume: (r: object) => client.call('nodeExpandVolume', r) };
const standin = new KubeletStandin({ kubeConfig, nodeName, kubeletDir, driverName, csi, log });
await standin.start();
process.stdout.write(`${JSON.stringify({ kubeletStandin: nodeName, pid: process.pid, kubeletDir })}\n`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping (mounts stay, as when kubelet restarts)');
    void standin.stop().finally(() => {
      client.close();
      process.exit(0);
    });
  });
}
