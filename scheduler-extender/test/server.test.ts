import type { Server } from 'node:http';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticClusterView } from '../src/cluster-view.js';
import { createExtenderServer, MAX_BODY_BYTES } from '../src/server.js';
import { claim, node, pod, replica, volume } from './fixtures.js';

const strict = claim('data', 'vol');
const view = new StaticClusterView({
  nodes: [node('n1', 'a'), node('n2', 'b')],
  pvcs: [strict.pvc],
  pvs: [strict.pv!],
  volumes: [volume('vol', 'strict-local')],
  replicas: [replica('vol', 'n2')],
});

let server: Server;
let port: number;

beforeAll(async () => {
  server = createExtenderServer({ view, logger: pino({ level: 'silent' }) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Reply {
  status: number;
  body: string;
}

function call(method: string, path: string, body?: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const json = (v: unknown) => JSON.stringify(v);

describe('extender server on 127.0.0.1', () => {
  it('filters and prioritizes', async () => {
    const args = json({ Pod: pod('p', { claims: ['data'] }), NodeNames: ['n1', 'n2'] });
    const f = await call('POST', '/filter', args);
    expect(f.status).toBe(200);
    expect(JSON.parse(f.body)).toMatchObject({ NodeNames: ['n2'], Error: '' });
    const p = await call('POST', '/prioritize', args);
    expect(JSON.parse(p.body)).toEqual([
      { Host: 'n1', Score: 0 },
      { Host: 'n2', Score: 0 },
    ]);
  });

  it.each<[string, string, string, string | Buffer | undefined, number, string]>([
    ['malformed JSON', 'POST', '/filter', '{"Pod": ', 400, 'malformed JSON'],
    ['empty body', 'POST', '/prioritize', '', 400, 'malformed JSON'],
    ['a JSON string', 'POST', '/filter', '"hello"', 400, 'must be a JSON object'],
    [
      'a pod without metadata',
      'POST',
      '/filter',
      json({ Pod: { spec: {} }, NodeNames: [] }),
      400,
      'metadata.name',
    ],
    [
      'NodeNames of numbers',
      'POST',
      '/prioritize',
      json({ Pod: pod('p'), NodeNames: [1, 2] }),
      400,
      'list of strings',
    ],
    ['no nodes at all', 'POST', '/filter', json({ Pod: pod('p') }), 400, 'needs NodeNames'],
    [
      'volumes a number',
      'POST',
      '/filter',
      json({ Pod: { metadata: { name: 'p' }, spec: { volumes: 1 } }, NodeNames: [] }),
      400,
      'volumes',
    ],
    ['an unknown verb', 'POST', '/bind', '{}', 404, 'no such verb'],
    ['GET on a verb', 'GET', '/filter', undefined, 405, 'takes POST'],
  ])('%s -> %i', async (_name, method, path, body, status, message) => {
    const reply = await call(method, path, body);
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.body).Error).toContain(message);
  });

  it('a body over 1 MiB is refused with 413 and the server goes on', async () => {
    const huge = Buffer.alloc(MAX_BODY_BYTES + 10, 0x20);
    const reply = await call('POST', '/filter', huge).catch((err: Error) => ({
      status: -1,
      body: err.message,
    }));
    // The client may see the answer or a reset while still writing; never a crash on our side.
    if (reply.status !== -1) {
      expect(reply.status).toBe(413);
      expect(JSON.parse(reply.body).Error).toContain('over the limit');
    }
    const after = await call('GET', '/healthz');
    expect(after).toEqual({ status: 200, body: 'ok' });
  });

  it('unknown nodes are answered per node, not with a crash', async () => {
    const f = await call(
      'POST',
      '/filter',
      json({ Pod: pod('p', { claims: ['data'] }), NodeNames: ['zz', 'n2'] }),
    );
    expect(f.status).toBe(200);
    const result = JSON.parse(f.body);
    expect(result.NodeNames).toEqual(['n2']);
    expect(result.FailedNodes.zz).toContain('not in the longhorn-ts extender');
    const p = await call('POST', '/prioritize', json({ Pod: pod('p'), NodeNames: ['zz'] }));
    expect(JSON.parse(p.body)).toEqual([{ Host: 'zz', Score: 0 }]);
  });
});
