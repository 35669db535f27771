import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CsiNodeClient,
  type KubeletVolume,
  kubeletMountVolume,
  kubeletPaths,
  kubeletUnmountVolume,
} from '../src/harness/kubelet-csi.js';

function recordingClient(stages: boolean): {
  client: CsiNodeClient;
  calls: [string, Record<string, unknown>][];
} {
  const calls: [string, Record<string, unknown>][] = [];
  const record = (name: string) => async (req: Record<string, unknown>) => {
    calls.push([name, req]);
    return {};
  };
  return {
    calls,
    client: {
      nodeGetCapabilities: async (req) => {
        calls.push(['NodeGetCapabilities', req]);
        return { capabilities: stages ? [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }] : [] };
      },
      nodeStageVolume: record('NodeStageVolume'),
      nodePublishVolume: record('NodePublishVolume'),
      nodeUnpublishVolume: record('NodeUnpublishVolume'),
      nodeUnstageVolume: record('NodeUnstageVolume'),
    },
  };
}

const volume: KubeletVolume = {
  driverName: 'driver.longhorn.io',
  pvName: 'pvc-1',
  volumeHandle: 'pvc-1',
  podUid: 'uid-1',
  accessType: 'mount',
  fsType: 'xfs',
  publishContext: { devicePath: '/dev/x' },
  volumeContext: { numberOfReplicas: '3' },
};

describe('kubelet CSI node calls', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-kubelet-csi-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("uses kubelet's paths", () => {
    const mount = kubeletPaths('/k', volume);
    expect(mount.stagingTargetPath).toMatch(
      /^\/k\/plugins\/kubernetes.io\/csi\/driver.longhorn.io\/[0-9a-f]{64}\/globalmount$/,
    );
    expect(mount.targetPath).toBe('/k/pods/uid-1/volumes/kubernetes.io~csi/pvc-1/mount');
    expect(kubeletPaths('/k', { ...volume, accessType: 'block' })).toEqual({
      stagingTargetPath: '/k/plugins/kubernetes.io/csi/volumeDevices/staging/pvc-1',
      targetPath: '/k/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-1/uid-1',
    });
  });

  it('stages then publishes, unpublishes then unstages, for a driver that stages', async () => {
    const { client, calls } = recordingClient(true);
    const paths = await kubeletMountVolume(client, dir, volume);
    await kubeletUnmountVolume(client, dir, volume);
    expect(calls.map(([name]) => name)).toEqual([
      'NodeGetCapabilities',
      'NodeStageVolume',
      'NodePublishVolume',
      'NodeUnpublishVolume',
      'NodeGetCapabilities',
      'NodeUnstageVolume',
    ]);
    expect(existsSync(paths.stagingTargetPath)).toBe(true);
    expect(existsSync(dirname(paths.targetPath))).toBe(true);
    expect(existsSync(paths.targetPath)).toBe(false);
    expect(calls[2]![1]).toMatchObject({
      volumeId: 'pvc-1',
      stagingTargetPath: paths.stagingTargetPath,
      targetPath: paths.targetPath,
      volumeCapability: { mount: { fsType: 'xfs' }, accessMode: { mode: 'SINGLE_NODE_WRITER' } },
      publishContext: { devicePath: '/dev/x' },
      volumeContext: { numberOfReplicas: '3' },
    });
  });

  it('only publishes for a driver that does not stage', async () => {
    const { client, calls } = recordingClient(false);
    await kubeletMountVolume(client, dir, { ...volume, accessType: 'block' });
    expect(calls.map(([name]) => name)).toEqual(['NodeGetCapabilities', 'NodePublishVolume']);
    expect(calls[1]![1]).not.toHaveProperty('stagingTargetPath');
  });
});
