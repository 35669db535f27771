/**
 * Process entry: `node scheduler-extender/dist/main.js --listen HOST:PORT` (KUBECONFIG from the
 * environment). Serves once every cache has synced, then prints one JSON line
 * `{"extender":"http://HOST:PORT","pid":N}` on stdout. SIGTERM/SIGINT stop it cleanly.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { BoundedKubeConfig } from '@longhorn-ts/kube-runtime';
import { InformerClusterView } from './informer-view.js';
import { extenderLogger } from './logging.js';
import { createExtenderServer } from './server.js';

const USAGE = 'usage: main.js --listen HOST:PORT [--log-level info]';

function parseListen(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--listen ${value}: expected HOST:PORT`);
  return { host, port };
}

let options: { listen: string; 'log-level': string | undefined };
try {
  const { values } = parseArgs({
    options: { listen: { type: 'string' }, 'log-level': { type: 'string' } },
    strict: true,
  });
  if (!values.listen) throw new Error('--listen is required');
  options = { listen: values.listen, 'log-level': values['log-level'] };
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}

const log = extenderLogger(options['log-level']);
let listen: { host: string; port: number };
try {
  listen = parseListen(options.listen);
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}

process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

const kubeConfig = new BoundedKubeConfig();
kubeConfig.loadFromDefault();
const view = new InformerClusterView(kubeConfig, log);
const server = createExtenderServer({ view, logger: log });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // In-flight requests take milliseconds; don't let a stuck client hold the exit.
  setTimeout(() => server.closeAllConnections(), 2_000).unref();
  await Promise.all([closed, view.stop()]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

view.start();
const t0 = Date.now();
await view.waitForSync();
if (stopping) process.exit(0);
log.info({ ms: Date.now() - t0 }, 'caches synced');
server.listen(listen.port, listen.host, () => {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stdout.write(
    `${JSON.stringify({ extender: `http://${host}:${address.port}`, pid: process.pid })}\n`,
  );
});
server.on('error', (err) => {
  log.error({ err }, 'server error');
  process.exit(1);
});
