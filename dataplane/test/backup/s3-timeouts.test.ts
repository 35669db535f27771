import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/backup/errors.js';
import { S3Target } from '../../src/backup/s3-target.js';

/**
 * An S3 endpoint that accepts the connection and then never answers (a wedged store, a proxy
 * that swallowed the request): every request gives up after its bound and says the target is
 * unreachable, instead of hanging the backup or restore that made it.
 */
describe('S3 target request bounds', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let endpoint = '';
  let received = 0;

  beforeAll(async () => {
    server = createServer((s) => {
      sockets.add(s);
      s.on('data', () => {
        received++;
      });
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a request the store never answers fails as UNREACHABLE within its bound (each attempt bounded)', async () => {
    const target = new S3Target(
      { bucket: 'b', region: 'us-east-1', prefix: '' },
      's3://b@us-east-1/',
      { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_ENDPOINTS: endpoint },
      { requestMs: 800 },
    );
    const t0 = performance.now();
    try {
      const err = await target.get('backupstore/volumes/x/volume.cfg').then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = performance.now() - t0;
      expect(err).toBeInstanceOf(BackupError);
      expect((err as BackupError).code).toBe('UNREACHABLE');
      expect((err as Error).message).toMatch(/unreachable/);
      // The request reached the server (it is the answer that never came).
      expect(received).toBeGreaterThan(0);
      // Three attempts of 0.8 s plus the SDK's backoff: well under 15 s, not forever.
      expect(elapsed).toBeLessThan(15_000);
    } finally {
      await target.close();
    }
  }, 30_000);
});
