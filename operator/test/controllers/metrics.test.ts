import type { Node, Volume } from '@longhorn-ts/api';
import { zeroIoCounters } from '@longhorn-ts/dataplane/frontend/io-stats-device';
import { describe, expect, it } from 'vitest';
import { buildRegistry } from '../../src/metrics/collector.js';
import { VolumeIoStore } from '../../src/metrics/volume-io.js';

const cache = <T extends { metadata: { name: string } }>(items: T[]) => ({
  get: (name: string) => items.find((i) => i.metadata.name === name),
  list: () => items,
});

describe('metrics under Longhorn names and labels', () => {
  it('owned volumes, own node and disks', async () => {
    const volumes: Volume[] = [
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Volume',
        metadata: { name: 'v1' },
        spec: { size: '1048576' },
        status: {
          ownerID: 'node-1',
          state: 'attached',
          robustness: 'healthy',
          actualSize: 4096,
          kubernetesStatus: { pvcName: 'data', namespace: 'apps' },
        },
      },
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Volume',
        metadata: { name: 'other' },
        spec: { size: '1' },
        status: { ownerID: 'node-2' },
      },
    ];
    const nodes: Node[] = [
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Node',
        metadata: { name: 'node-1' },
        spec: { allowScheduling: true, disks: { d1: { storageReserved: 100 } } },
        status: {
          conditions: [{ type: 'Ready', status: 'True', reason: '' }],
          diskStatus: { d1: { storageMaximum: 1000, storageAvailable: 600 } },
        },
      },
      { apiVersion: 'longhorn.io/v1beta2', kind: 'Node', metadata: { name: 'node-2' }, spec: {} },
    ];
    // v1's engine runs here: two samples of its frontend counters, 2 s apart.
    const io = new VolumeIoStore();
    const c = zeroIoCounters();
    io.sample('v1', c, 0);
    io.sample('v1', { ...c, readOps: 200, readBytes: 819200, readLatencyNs: 2e7 }, 2000);
    const text = await buildRegistry({
      node: 'node-1',
      namespace: 'longhorn-system',
      caches: { volumes: cache(volumes), nodes: cache(nodes) },
      io,
    }).metrics();
    const labels = 'node="node-1",volume="v1",pvc="data",pvc_namespace="apps"';
    expect(text).toContain(`longhorn_volume_capacity_bytes{${labels}} 1048576`);
    expect(text).toContain(`longhorn_volume_actual_size_bytes{${labels}} 4096`);
    expect(text).toContain(`longhorn_volume_state{${labels},state="attached"} 1`);
    expect(text).toContain(`longhorn_volume_state{${labels},state="detached"} 0`);
    expect(text).toContain(`longhorn_volume_robustness{${labels},state="healthy"} 1`);
    expect(text).toContain(`longhorn_volume_read_iops{${labels}} 100`);
    expect(text).toContain(`longhorn_volume_read_throughput{${labels}} 409600`);
    expect(text).toContain(`longhorn_volume_read_latency{${labels}} 100000`);
    expect(text).toContain(`longhorn_volume_write_iops{${labels}} 0`);
    expect(text).not.toContain('volume="other"');
    expect(text).toContain('longhorn_node_status{node="node-1",condition="ready",condition_reason=""} 1');
    expect(text).toContain(
      'longhorn_node_status{node="node-1",condition="allowScheduling",condition_reason=""} 1',
    );
    expect(text).toContain('longhorn_node_count_total 2');
    expect(text).toContain('longhorn_disk_capacity_bytes{node="node-1",disk="d1"} 1000');
    expect(text).toContain('longhorn_disk_usage_bytes{node="node-1",disk="d1"} 400');
  });
});
