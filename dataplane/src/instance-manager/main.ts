/**
 * Process entry of a node's instance manager:
 *   node dist/instance-manager/main.js --node NAME --listen HOST:PORT --log-dir DIR
 * Prints one JSON line {node, address, pid} once its gRPC service answers; on SIGTERM/SIGINT
 * stops every process it started (engines first) and exits.
 */
import { parseArgs } from 'node:util';
import { componentLogger } from '../logging/logger.js';
import { parseHostPort } from '../net/host-port.js';
import { announceReady, exitWithParent } from '../process/entry-point.js';
import { ProcessSupervisor } from './process-supervisor.js';
import { serveInstanceManager } from './service.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string', default: process.env.NODE_NAME ?? 'node-0' },
    listen: { type: 'string', default: '127.0.0.1:0' },
    'log-dir': { type: 'string' },
  },
});
const node = values.node!;
const { host, port: listenPort } = parseHostPort(values.listen!, '--listen');
const log = componentLogger('instance-manager', { node });
const supervisor = new ProcessSupervisor({
  node,
  logDir: values['log-dir'] ?? `/tmp/longhorn-im-${node}`,
  log,
});
const { server, port } = await serveInstanceManager(supervisor, node, host, listenPort);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  log.info('stopping');
  await supervisor.shutdown();
  server.forceShutdown();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitWithParent(stop);
announceReady({ node, address: `${host}:${port}`, pid: process.pid });
