import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { listWatchInformer, ResilientInformer } from '../src/resilient-informer.js';

/** A stand-in API server for /api/v1/nodes: lists fail `failures` times with 500, then answer. */
function fakeApi(failures: number): Promise<{ server: Server; url: string; lists: () => number }> {
  let lists = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') === 'true') {
      // Hold the watch open with nothing to say.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return;
    }
    lists++;
    if (lists <= failures) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"kind":"Status","code":500}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'NodeList',
        metadata: { resourceVersion: '7' },
        items: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', resourceVersion: '7' } }],
      }),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        lists: () => lists,
      }),
    ),
  );
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('ResilientInformer over a real list+watch HTTP path', () => {
  it('restarts a stopped informer with growing back-off until the list succeeds, then syncs', async () => {
    const api = await fakeApi(3);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const core = kc.makeApiClient(CoreV1Api);
    const cache = new ResilientInformer<V1Node>({
      name: 'nodes',
      create: () => listWatchInformer(kc, '/api/v1/nodes', () => core.listNode()),
      logger: pino({ level: 'silent' }),
      minRestartDelayMs: 20,
      maxRestartDelayMs: 80,
    });
    cleanup = async () => {
      await cache.stop();
      api.server.closeAllConnections();
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
    };
    const t0 = Date.now();
    void cache.start();
    await cache.waitForSync();
    // 20 + 40 + 80 ms of back-off before the 4th list.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(130);
    expect(cache.restarts).toBe(3);
    expect(api.lists()).toBe(4);
    expect(cache.hasSynced).toBe(true);
    expect(cache.get('n1')?.metadata?.name).toBe('n1');
  });

  it('stop() ends the waits and the restarts', async () => {
    const api = await fakeApi(1_000);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: api.url }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const core = kc.makeApiClient(CoreV1Api);
    const cache = new ResilientInformer<V1Node>({
      name: 'nodes',
      create: () => listWatchInformer(kc, '/api/v1/nodes', () => core.listNode()),
      logger: pino({ level: 'silent' }),
      minRestartDelayMs: 10,
    });
    cleanup = async () => {
      api.server.closeAllConnections();
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
    };
    void cache.start();
    const synced = cache.waitForSync();
    await new Promise((r) => setTimeout(r, 50));
    await cache.stop();
    await synced;
    const lists = api.lists();
    await new Promise((r) => setTimeout(r, 60));
    expect(api.lists()).toBe(lists);
    expect(cache.hasSynced).toBe(false);
  });
});
