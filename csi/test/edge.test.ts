import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsiCallError, CsiClient } from '../src/client.js';
import { CsiError } from '../src/errors.js';
import { parseMountInfo } from '../src/node/mount-table.js';
import { implement, type ServiceSpec } from '../src/rpc/edge.js';
import { csiServices, grpc } from '../src/rpc/proto.js';
import { REDACTED, redactSecrets } from '../src/rpc/redact.js';
import { VolumeLocks } from '../src/rpc/volume-locks.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CsiCallError) return `${err.codeName}: ${err.details}`;
    throw err;
  }
  return 'OK';
}

describe('the RPC edge on a real gRPC server over a Unix socket', () => {
  let dir: string;
  let server: grpc.Server;
  let client: CsiClient;
  const logs: string[] = [];
  let release: () => void = () => undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'csi-edge-'));
    const log = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
    const spec: ServiceSpec = {
      NodeStageVolume: {
        volumeOf: (r: { volumeId?: string }) => r.volumeId,
        handler: async (r: { volumeId?: string }) => {
          if (r.volumeId === 'slow') await new Promise<void>((res) => (release = res));
          if (r.volumeId === 'missing') throw new CsiError('NOT_FOUND', 'volume missing not found');
          if (r.volumeId === 'bug') throw new TypeError('undefined is not a function');
          return {};
        },
      },
    };
    server = new grpc.Server();
    server.addService(csiServices().Node.service, implement(spec, { locks: new VolumeLocks(), log }));
    const endpoint = `unix://${join(dir, 'csi.sock')}`;
    await new Promise<void>((res, rej) =>
      server.bindAsync(endpoint, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())),
    );
    client = new CsiClient(endpoint);
  });

  afterAll(async () => {
    client?.close();
    server?.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('maps handler errors with the one table; a bug is INTERNAL and the server goes on', async () => {
    expect(await codeOf(client.call('nodeStageVolume', { volumeId: 'missing' }))).toBe(
      'NOT_FOUND: volume missing not found',
    );
    expect(await codeOf(client.call('nodeStageVolume', { volumeId: 'bug' }))).toMatch(/^INTERNAL/);
    expect(await codeOf(client.call('nodeStageVolume', { volumeId: 'ok' }))).toBe('OK');
    expect(await codeOf(client.call('nodeUnstageVolume', {}))).toMatch(/^UNIMPLEMENTED/);
  });

  it('a second operation on a busy volume is ABORTED; other volumes go on', async () => {
    const first = client.call('nodeStageVolume', { volumeId: 'slow' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await codeOf(client.call('nodeStageVolume', { volumeId: 'slow' }))).toMatch(
      /^ABORTED: an operation on volume slow is already in progress \(NodeStageVolume\)/,
    );
    expect(await codeOf(client.call('nodeStageVolume', { volumeId: 'other' }))).toBe('OK');
    release();
    expect(await codeOf(first)).toBe('OK');
    const again = client.call('nodeStageVolume', { volumeId: 'slow' });
    await new Promise((r) => setTimeout(r, 100));
    release();
    expect(await codeOf(again)).toBe('OK');
  });

  it('logs requests with secrets redacted', async () => {
    await client.call('nodeStageVolume', { volumeId: 'ok', secrets: { password: 'hunter2' } });
    const text = logs.join('');
    expect(text).not.toContain('hunter2');
    expect(text).toContain(REDACTED);
  });
});

describe('helpers', () => {
  it('redacts every secrets map, nested too', () => {
    expect(redactSecrets({ a: 1, secrets: { k: 'v' }, nested: [{ secrets: { x: 'y' } }] })).toEqual({
      a: 1,
      secrets: { k: REDACTED },
      nested: [{ secrets: { x: REDACTED } }],
    });
  });

  it('parses mountinfo with escaped paths', () => {
    const text =
      '36 35 7:0 / /var/lib/kubelet/my\\040dir rw,relatime shared:1 - ext4 /dev/loop0 rw\n' +
      '37 35 0:39 / /tmp/x/fuse rw,nosuid - fuse /dev/fuse rw,user_id=0\n';
    expect(parseMountInfo(text)).toEqual([
      {
        device: '7:0',
        root: '/',
        target: '/var/lib/kubelet/my dir',
        options: ['rw', 'relatime'],
        fsType: 'ext4',
        source: '/dev/loop0',
      },
      {
        device: '0:39',
        root: '/',
        target: '/tmp/x/fuse',
        options: ['rw', 'nosuid'],
        fsType: 'fuse',
        source: '/dev/fuse',
      },
    ]);
  });
});
