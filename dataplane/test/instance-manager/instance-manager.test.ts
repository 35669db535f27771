import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceManagerClient } from '../../src/instance-manager/client.js';
import { ProcessSupervisor } from '../../src/instance-manager/process-supervisor.js';
import { serveInstanceManager } from '../../src/instance-manager/service.js';
import { componentLogger } from '../../src/logging/logger.js';
import type { grpc } from '../../src/rpc/grpc-proto.js';
import { waitFor } from '../wait-for.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('instance manager over gRPC', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-im-'));
  const supervisor = new ProcessSupervisor({
    node: 'n1',
    logDir: join(dir, 'logs'),
    log: componentLogger('im-test'),
  });
  let server: grpc.Server;
  let client: InstanceManagerClient;

  beforeAll(async () => {
    const served = await serveInstanceManager(supervisor, 'n1', '127.0.0.1', 0);
    server = served.server;
    client = new InstanceManagerClient(`127.0.0.1:${served.port}`);
  });

  afterAll(async () => {
    client.close();
    await supervisor.shutdown();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers its version and node', async () => {
    expect(await client.version()).toEqual({ version: expect.any(String), node: 'n1' });
  });

  it('starts a replica server, restarts it after SIGKILL, and stops it on delete', async () => {
    const args = ['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'replicas')];
    const p = await client.create('rs', 'replica-server', args, true);
    expect(p).toMatchObject({ name: 'rs', kind: 'replica-server', state: 'running', restarts: 0 });
    expect(JSON.parse(p.ready).tcp.port).toBeGreaterThan(0);
    expect(alive(p.pid)).toBe(true);

    // Creating it again with the same arguments is idempotent; other arguments are refused.
    expect((await client.create('rs', 'replica-server', args, true)).pid).toBe(p.pid);
    await expect(client.create('rs', 'replica-server', ['--socket', '/x'], true)).rejects.toThrow(
      /other arguments/,
    );

    process.kill(p.pid, 'SIGKILL');
    await waitFor(
      'a restart',
      async () => {
        const now = await client.get('rs');
        return now.state === 'running' && now.pid !== p.pid;
      },
      { timeoutMs: 30_000 },
    );
    const restarted = await client.get('rs');
    expect(restarted.restarts).toBe(1);
    expect(restarted.error).toMatch(/SIGKILL/);
    expect((await client.list()).map((x) => x.name)).toEqual(['rs']);
    expect((await client.logs('rs')).join('\n')).toMatch(/rs exited with signal SIGKILL; restarting/);

    const stopped = await client.delete('rs');
    expect(stopped.state).toBe('stopped');
    expect(alive(restarted.pid)).toBe(false);
    await expect(client.get('rs')).rejects.toThrow(/no process rs/);
  }, 60_000);

  it('refuses bad names and kinds with a clear message, and reports a process that dies at start', async () => {
    await expect(client.create('../x', 'engine', [], false)).rejects.toThrow(/invalid/);
    await expect(client.create('x', 'shell' as 'engine', [], false)).rejects.toThrow(/unknown process kind/);
    await expect(
      client.create('bad', 'engine', ['--volume', 'v', '--replica', 'nonsense'], false),
    ).rejects.toThrow(/exited .* before it was ready/);
  }, 60_000);
});
