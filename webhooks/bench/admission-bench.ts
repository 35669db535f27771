/**
 * Admission latency under concurrency: the HTTPS server in a child process on 127.0.0.1 (so the
 * clients' own work does not count), and 50 clients on keep-alive connections sending Volume CREATE reviews (alternating valid ones, which get
 * a patch, and invalid ones, which get a denial) to both endpoints. Prints p50/p99/max per endpoint.
 *
 *   npx tsx webhooks/bench/admission-bench.ts [--requests 5000] [--concurrency 50]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { staticContext } from '../src/admission/context.js';
import { CertificateRotator, type IssuedPki } from '../src/certificates.js';
import { MUTATION_PATH, startAdmissionServer, VALIDATION_PATH } from '../src/server.js';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '5000' }, concurrency: { type: 'string', default: '50' } },
});
const total = Number(values.requests);
const concurrency = Number(values.concurrency);

async function serve(): Promise<void> {
  let pki: IssuedPki | undefined;
  const rotator = new CertificateRotator({
    names: { commonName: 'bench', altNames: ['127.0.0.1'] },
    onIssue: (p) => {
      pki = p;
    },
  });
  await rotator.start();
  if (!pki) throw new Error('no certificate');
  const ctx = staticContext({ settings: { 'default-replica-count': '3' } });
  const server = await startAdmissionServer({
    host: '127.0.0.1',
    port: 0,
    tls: pki.serving,
    context: () => ctx,
    logger: pino({ level: 'silent' }),
  });
  process.send?.({ url: server.url, ca: pki.caBundle });
  process.on('disconnect', () => {
    rotator.stop();
    void server.close().then(() => process.exit(0));
  });
}

async function measure(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, ADMISSION_BENCH_ROLE: 'server' },
    execArgv: process.execArgv,
  });
  const [{ url, ca }] = (await once(child, 'message')) as [{ url: string; ca: string }];
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca });
  try {
    await run(url, agent, VALIDATION_PATH); // warm-up: TLS handshakes, JIT
    for (const [name, path] of [
      ['validation', VALIDATION_PATH],
      ['mutation', MUTATION_PATH],
    ] as const) {
      const started = Date.now();
      const sorted = await run(url, agent, path);
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `${name}: ${total} requests, ${concurrency} concurrent: p50 ${pct(sorted, 50).toFixed(2)} ms, p99 ${pct(sorted, 99).toFixed(2)} ms, max ${(sorted[sorted.length - 1] ?? 0).toFixed(2)} ms, ${(total / seconds).toFixed(0)} req/s`,
      );
    }
  } finally {
    agent.destroy();
    child.disconnect();
    await once(child, 'exit');
  }
}

function body(i: number): string {
  const spec =
    i % 2 === 0
      ? { size: '1000000' }
      : { size: '2147483648', numberOfReplicas: 2, dataLocality: 'strict-local' };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${i}`,
      kind: { group: 'longhorn.io', version: 'v1beta2', kind: 'Volume' },
      operation: 'CREATE',
      object: {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Volume',
        metadata: { name: `vol-${i}`, namespace: 'longhorn-system' },
        spec,
      },
    },
  });
}

function post(url: string, agent: Agent, path: string, payload: string): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
          else resolve(Number(process.hrtime.bigint() - start) / 1e6);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function run(url: string, agent: Agent, path: string): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      latencies.push(await post(url, agent, path, body(i)));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

if (process.env.ADMISSION_BENCH_ROLE === 'server') {
  await serve();
} else {
  await measure();
}
