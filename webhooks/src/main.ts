/**
 * node webhooks/dist/main.js --listen HOST:PORT [--local] [--kubeconfig PATH]
 *   [--namespace longhorn-system] [--service NAME:PORT] [--alt-name NAME]... [--serving-validity SECONDS]
 *
 * Generates the CA and serving certificate, serves the admission endpoints over HTTPS,
 * registers (or updates) both webhook configurations with the CA bundle, then prints one JSON
 * line {"webhook":"https://host:port","pid":N}. Certificates rotate before expiry with no
 * restart. SIGTERM stops it; the configurations stay (README: why deletion still works then).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { NAMESPACE } from '@longhorn-ts/api';
import { BoundedKubeConfig } from '@longhorn-ts/kube-runtime';
import { pino } from 'pino';
import { ClusterCaches } from './caches.js';
import { CertificateRotator, type IssuedPki } from './certificates.js';
import { registerConfigurations, type WebhookEndpoint } from './configurations.js';
import { type AdmissionServer, startAdmissionServer } from './server.js';

const DEFAULT_SERVICE = 'longhorn-admission-webhook';
const DEFAULT_SERVICE_PORT = 9502;

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:9502' },
    local: { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', default: NAMESPACE },
    service: { type: 'string', default: `${DEFAULT_SERVICE}:${DEFAULT_SERVICE_PORT}` },
    'alt-name': { type: 'string', multiple: true, default: [] },
    'serving-validity': { type: 'string' },
    'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
  },
});

const log = pino({ name: 'webhooks', level: values['log-level'] }, pino.destination(2));

function fail(message: string): never {
  log.error(message);
  console.error(`webhooks: ${message}`);
  process.exit(2);
}

const listen = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(values.listen ?? '');
if (!listen) fail(`--listen ${values.listen}: write HOST:PORT, e.g. 127.0.0.1:9502`);
const host = (listen[1] as string).replace(/^\[|\]$/g, '');
const port = Number(listen[2]);
const namespace = values.namespace as string;
const [serviceName = DEFAULT_SERVICE, servicePort = String(DEFAULT_SERVICE_PORT)] = (
  values.service as string
).split(':');

const kubeConfig = new BoundedKubeConfig();
if (values.kubeconfig) kubeConfig.loadFromFile(values.kubeconfig);
else kubeConfig.loadFromDefault();

const serviceNames = [
  serviceName,
  `${serviceName}.${namespace}`,
  `${serviceName}.${namespace}.svc`,
  `${serviceName}.${namespace}.svc.cluster.local`,
];
const altNames = [
  ...new Set([
    '127.0.0.1',
    'localhost',
    ...(host !== '0.0.0.0' && host !== '::' && isIP(host) ? [host] : []),
    ...(isIP(host) ? [] : [host]),
    ...(values.local ? [] : serviceNames),
    ...(values['alt-name'] as string[]),
  ]),
];

const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const endpoint: WebhookEndpoint = values.local
  ? { url: `https://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${port}` }
  : { service: { namespace, name: serviceName, port: Number(servicePort) } };

const caches = new ClusterCaches(kubeConfig, namespace, log);
let server: AdmissionServer | undefined;
let stopping = false;

async function registerWithRetry(pki: IssuedPki): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      await registerConfigurations(kubeConfig, { endpoint, caBundle: pki.caBundle });
      return;
    } catch (err) {
      if (stopping) return;
      log.warn({ err: String(err), delay }, 'registering the webhook configurations failed; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

const rotator = new CertificateRotator({
  names: { commonName: serviceName, altNames },
  ...(values['serving-validity'] !== undefined && {
    servingValidityMs: Number(values['serving-validity']) * 1000,
  }),
  onIssue: async (pki) => {
    if (server === undefined) return; // the first pair: served below, registered once listening
    // The API server must trust the new CA before we present a certificate it signed.
    await registerWithRetry(pki);
    server.setCertificate(pki.serving);
    log.info({ notAfter: pki.serving.notAfter }, 'serving certificate rotated');
  },
  onError: (err) => log.error({ err: String(err) }, 'certificate rotation failed; retrying'),
});

async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  rotator.stop();
  const closing = server?.close();
  await caches.stop();
  await Promise.race([closing, new Promise((r) => setTimeout(r, 3000).unref())]);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

try {
  await caches.start();
  const first = await rotator.start();
  server = await startAdmissionServer({
    host,
    port,
    tls: first.serving,
    context: () => caches.context(),
    logger: log,
  });
  await registerWithRetry(first);
  if (!stopping) {
    process.stdout.write(`${JSON.stringify({ webhook: server.url, pid: process.pid })}\n`);
    log.info({ url: server.url, endpoint, altNames }, 'webhooks ready');
  }
} catch (err) {
  fail(`could not start: ${err instanceof Error ? err.message : String(err)}`);
}
