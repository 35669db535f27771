import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTarget } from '../../src/backup/target-url.js';

const exec = promisify(execFile);

/**
 * AWS_CERT (Longhorn's Secret key): an S3 endpoint whose certificate only that CA vouches for is
 * reached with it and refused without it. The endpoint is a small HTTPS server answering every
 * request with an empty bucket listing.
 */
describe('S3 target with AWS_CERT', () => {
  let dir = '';
  let server: Server;
  let pem = '';
  let endpoint = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-s3-cert-'));
    await exec('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    pem = await readFile(join(dir, 'cert.pem'), 'utf8');
    server = createServer({ key: await readFile(join(dir, 'key.pem')), cert: pem }, (_req, res) => {
      res.setHeader('content-type', 'application/xml');
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>',
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const creds = () => ({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_ENDPOINTS: endpoint });

  it('reaches the endpoint with the CA from AWS_CERT', async () => {
    const t = openTarget('s3://b@us-east-1/', { ...creds(), AWS_CERT: pem });
    try {
      await t.check();
      expect(t.requests.list).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('refuses the endpoint without it, naming the certificate problem', async () => {
    const t = openTarget('s3://b@us-east-1/', creds());
    try {
      await expect(t.check()).rejects.toThrow(/certificate/i);
    } finally {
      await t.close();
    }
  });
});
