import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { BoundedKubeConfig } from '../src/bounded-kube-config.js';

/** An HTTP endpoint that takes every request and never answers it (a wedged API server). */
async function silentApi(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const held: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    if (new URL(req.url ?? '/', 'http://x').searchParams.get('watch') === 'true') {
      // A watch: headers, then nothing (an idle but healthy watch).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    }
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function load(kc: KubeConfig, server: string): KubeConfig {
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('BoundedKubeConfig', () => {
  it('an API call the server never answers fails after the bound instead of waiting for good', async () => {
    const api = await silentApi();
    cleanup = api.close;
    const core = load(new BoundedKubeConfig(300), api.url).makeApiClient(CoreV1Api);
    const t0 = Date.now();
    const err = await core.listNode().then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toMatch(/Abort/);
    expect(api.requests()).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('a watch is not bounded: it stays open past the bound', async () => {
    const api = await silentApi();
    const watch = new Watch(load(new BoundedKubeConfig(200), api.url));
    let ended: unknown = 'open';
    const req = await watch.watch(
      '/api/v1/nodes',
      {},
      (_type: string, _obj: KubernetesObject) => {},
      (err) => {
        ended = err ?? 'closed';
      },
    );
    cleanup = async () => {
      req.abort();
      await api.close();
    };
    await new Promise((r) => setTimeout(r, 800));
    expect(ended).toBe('open');
  });

  it('refuses a timeout that is not a positive number', () => {
    expect(() => new BoundedKubeConfig(0)).toThrow(/positive number of ms, not 0/);
    expect(() => new BoundedKubeConfig(Number.NaN)).toThrow(/positive/);
  });

  it('the plain client-node KubeConfig would still be waiting (what this guards against)', async () => {
    const api = await silentApi();
    cleanup = api.close;
    const core = load(new KubeConfig(), api.url).makeApiClient(CoreV1Api);
    const outcome = await Promise.race([
      core.listNode().then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(() => r('still waiting'), 800)),
    ]);
    expect(outcome).toBe('still waiting');
  });
});
