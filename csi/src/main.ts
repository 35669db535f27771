import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BoundedKubeConfig } from '@longhorn-ts/kube-runtime';
import { pino } from 'pino';
import { LonghornObjects } from './k8s/longhorn-objects.js';
import { type DriverMode, startDriver } from './server.js';

// node csi/dist/main.js --endpoint unix:///path.sock --node-id NAME [--mode controller|node|both]
const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    'node-id': { type: 'string' },
    mode: { type: 'string', default: 'both' },
    'state-dir': { type: 'string' },
    namespace: { type: 'string', default: 'longhorn-system' },
  },
});

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { component: 'csi' } }, pino.destination(2));

function fail(message: string): never {
  process.stderr.write(`csi: ${message}\n`);
  process.exit(2);
}

const endpoint = values.endpoint ?? fail('--endpoint unix:///path.sock is required');
const nodeId = values['node-id'] ?? process.env.NODE_NAME ?? fail('--node-id (or NODE_NAME) is required');
const mode = values.mode as DriverMode;
if (!['controller', 'node', 'both'].includes(mode)) fail(`--mode ${mode}: controller, node or both`);
const stateDir = values['state-dir'] ?? join(process.env.NODE_DATA_DIR ?? '/var/lib/longhorn-ts', 'csi');

const kubeConfig = new BoundedKubeConfig();
if (process.env.KUBECONFIG) kubeConfig.loadFromFile(process.env.KUBECONFIG);
else kubeConfig.loadFromCluster();

const driver = await startDriver({
  endpoint,
  mode,
  node: {
    nodeId,
    ...(process.env.NODE_ZONE ? { zone: process.env.NODE_ZONE } : {}),
    ...(process.env.NODE_REGION ? { region: process.env.NODE_REGION } : {}),
  },
  objects: new LonghornObjects(kubeConfig, values.namespace),
  stateDir,
  log: log.child({ node: nodeId, mode }),
});

process.stdout.write(`${JSON.stringify({ csi: endpoint, pid: process.pid, mode, node: nodeId })}\n`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    driver.stop().then(() => process.exit(0));
  });
}
