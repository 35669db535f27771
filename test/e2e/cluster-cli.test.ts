import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { stopClusterInDir } from '../src/harness/cluster.js';
import { readClusterState } from '../src/harness/cluster-state.js';
import { Kubectl } from '../src/harness/kubectl.js';
import { groupAlive } from '../src/harness/managed-process.js';

const run = promisify(execFile);
const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
const bin = resolve(import.meta.dirname, '../../bin/longhorn-local.js');

function longhornLocal(args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [bin, ...args], { timeout: 180_000, env: { ...process.env, ...env } });
}

describe.skipIf(skip)('longhorn-local cluster up / down', () => {
  const dirs: string[] = [];
  async function clusterDir(): Promise<string> {
    const made = await mkdtemp(join(tmpdir(), 'lh-e2e-cli-'));
    dirs.push(made);
    return made;
  }

  afterAll(async () => {
    for (const dir of dirs) {
      await stopClusterInDir(dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts a cluster in the background, prints the kubeconfig last, and stops it completely', async () => {
    const dir = await clusterDir();
    const crd = join(dir, 'crd.json');
    await writeFile(
      crd,
      JSON.stringify({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'volumes.longhorn.io' },
        spec: {
          group: 'longhorn.io',
          scope: 'Namespaced',
          names: { kind: 'Volume', plural: 'volumes', singular: 'volume' },
          versions: [
            {
              name: 'v1beta2',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      }),
    );
    const t0 = Date.now();
    const { stdout } = await longhornLocal([
      'cluster',
      'up',
      '--dir',
      dir,
      '--nodes',
      '2',
      '--apply',
      crd,
      '--no-longhorn',
    ]);
    process.stdout.write(`[cluster-cli.test] cluster up took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const kubeconfig = stdout.trimEnd().split('\n').at(-1)!;
    expect(kubeconfig).toBe(join(dir, 'kubeconfig'));
    expect(existsSync(kubeconfig)).toBe(true);

    // The cluster outlives the CLI process.
    const state = await readClusterState(dir);
    expect(state?.ready).toBe(true);
    const records = state!.processes;
    expect(records.length).toBeGreaterThanOrEqual(5);
    expect(records.every((r) => groupAlive(r.pgid))).toBe(true);
    const kubectl = new Kubectl(kubeconfig);
    const nodes = await kubectl.run(['get', 'nodes', '-o', 'name']);
    expect(nodes.trim().split('\n').sort()).toEqual(['node/node-1', 'node/node-2']);
    expect(await kubectl.tryGet('crd', 'volumes.longhorn.io')).toBeDefined();

    // A second `up` on a running cluster answers with the same kubeconfig.
    const again = await longhornLocal(['cluster', 'up', '--dir', dir]);
    expect(again.stdout.trimEnd().split('\n').at(-1)).toBe(kubeconfig);

    const down = await longhornLocal(['cluster', 'down', '--dir', dir]);
    expect(down.stdout).toMatch(/processes stopped/);
    expect(records.filter((r) => groupAlive(r.pgid))).toEqual([]);
    expect(await readClusterState(dir)).toBeUndefined();
    // down is idempotent
    await longhornLocal(['cluster', 'down', '--dir', dir]);
  });

  it('refuses to start longhorn-ts without a built operator, naming the missing entry, and starts nothing', async () => {
    const bare = await clusterDir();
    const failed = await longhornLocal(['cluster', 'up', '--dir', bare, '--nodes', '1'], {
      LONGHORN_TS_OPERATOR_ENTRY: join(bare, 'no-operator/main.js'),
    }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(`${join(bare, 'no-operator/main.js')} does not exist`);
    expect(failed?.stderr).toContain('--no-longhorn');
    expect(await readClusterState(bare)).toBeUndefined();
  });

  it('starts longhorn-ts on every node: status lists each instance manager and operator; down leaves nothing', async () => {
    const dir = await clusterDir();
    const t0 = Date.now();
    const { stdout } = await longhornLocal(['cluster', 'up', '--dir', dir, '--nodes', '2']);
    process.stdout.write(
      `[cluster-cli.test] cluster up with longhorn-ts took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    const kubeconfig = stdout.trimEnd().split('\n').at(-1)!;
    const state = await readClusterState(dir);
    expect(Object.keys(state?.longhorn ?? {}).sort()).toEqual(['node-1', 'node-2']);
    const kubectl = new Kubectl(kubeconfig);
    const nodes = await kubectl.run(['-n', 'longhorn-system', 'get', 'nodes.longhorn.io', '-o', 'name']);
    expect(nodes.trim().split('\n').sort()).toEqual(['node.longhorn.io/node-1', 'node.longhorn.io/node-2']);

    // A non-zero exit (some process stopped, or the cluster not ready) fails with what it printed.
    const status = await longhornLocal(['cluster', 'status', '--dir', dir]).catch((err: unknown) => {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`${e.message}\n--- stdout ---\n${e.stdout ?? ''}\n--- stderr ---\n${e.stderr ?? ''}`);
    });
    for (const node of ['node-1', 'node-2']) {
      const section = status.stdout.split(/^(?=node-\d)/m).find((s) => s.startsWith(`${node} `)) ?? '';
      expect(section).toMatch(/running\t\d+\tinstance-manager\tgRPC 127\.0\.0\.\d+:\d+/);
      expect(section).toMatch(/running\t\d+\toperator\tmetrics http:/);
    }

    const records = state!.processes;
    await longhornLocal(['cluster', 'down', '--dir', dir]);
    expect(records.filter((r) => groupAlive(r.pgid)).map((r) => r.name)).toEqual([]);
    expect(await readClusterState(dir)).toBeUndefined();
  });
});
