/**
 * Prometheus metrics under Longhorn's names and labels (longhorn-manager metrics_collector):
 * each operator reports the volumes it owns and its own node and disks, read from the caches
 * at scrape time. The volume I/O metrics (iops, throughput, latency) are reported by the
 * operator that runs the volume's engine, from the engine's frontend counters (volume-io.ts).
 */

import { createServer, type Server } from 'node:http';
import { VOLUME_ROBUSTNESSES, VOLUME_STATES } from '@longhorn-ts/api';
import { Gauge, Registry } from 'prom-client';
import type { Caches } from '../controllers/context.js';
import { type VolumeIoStore, volumeIoStore } from './volume-io.js';

export interface MetricsSource {
  node: string;
  namespace: string;
  caches: Pick<Caches, 'volumes' | 'nodes'>;
  /** Rates of the engines this operator runs (default: the process's store). */
  io?: VolumeIoStore;
}

const VOLUME_LABELS = ['node', 'volume', 'pvc', 'pvc_namespace'] as const;

export function buildRegistry(src: MetricsSource): Registry {
  const registry = new Registry();
  const owned = () =>
    src.caches.volumes.list(src.namespace).filter((v) => (v.status?.ownerID ?? '') === src.node);
  const volumeLabels = (v: ReturnType<typeof owned>[number]) => ({
    node: src.node,
    volume: v.metadata.name,
    pvc: v.status?.kubernetesStatus?.pvcName ?? '',
    pvc_namespace: v.status?.kubernetesStatus?.namespace ?? '',
  });
  const volumeGauge = (name: string, help: string, value: (v: ReturnType<typeof owned>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: VOLUME_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const v of owned()) this.set(volumeLabels(v), value(v));
      },
    });

  volumeGauge('longhorn_volume_capacity_bytes', 'Configured size in bytes for this volume', (v) =>
    Number(v.spec.size ?? '0'),
  );
  volumeGauge(
    'longhorn_volume_actual_size_bytes',
    'Actual space used by each replica of the volume on the corresponding node',
    (v) => v.status?.actualSize ?? 0,
  );
  const io = src.io ?? volumeIoStore;
  for (const [metric, help, field] of [
    ['longhorn_volume_read_throughput', 'Read throughput of this volume (Bytes/s)', 'readThroughput'],
    ['longhorn_volume_write_throughput', 'Write throughput of this volume (Bytes/s)', 'writeThroughput'],
    ['longhorn_volume_read_iops', 'Read IOPS of this volume', 'readIops'],
    ['longhorn_volume_write_iops', 'Write IOPS of this volume', 'writeIops'],
    ['longhorn_volume_read_latency', 'Read latency of this volume (ns)', 'readLatency'],
    ['longhorn_volume_write_latency', 'Write latency of this volume (ns)', 'writeLatency'],
  ] as const) {
    new Gauge({
      name: metric,
      help,
      labelNames: VOLUME_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rates] of io.entries()) {
          const v = src.caches.volumes.get(name, src.namespace);
          if (v) this.set(volumeLabels(v), Math.round(rates[field]));
        }
      },
    });
  }
  new Gauge({
    name: 'longhorn_volume_state',
    help: 'State of this volume',
    labelNames: [...VOLUME_LABELS, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of owned())
        for (const s of VOLUME_STATES)
          this.set({ ...volumeLabels(v), state: s }, v.status?.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'longhorn_volume_robustness',
    help: 'Robustness of this volume',
    labelNames: [...VOLUME_LABELS, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of owned())
        for (const r of VOLUME_ROBUSTNESSES)
          this.set({ ...volumeLabels(v), state: r }, (v.status?.robustness || 'unknown') === r ? 1 : 0);
    },
  });

  const self = () => src.caches.nodes.get(src.node, src.namespace);
  new Gauge({
    name: 'longhorn_node_status',
    help: 'Status of this node',
    labelNames: ['node', 'condition', 'condition_reason'],
    registers: [registry],
    collect() {
      this.reset();
      const n = self();
      if (n === undefined) return;
      for (const c of n.status?.conditions ?? []) {
        this.set(
          { node: src.node, condition: c.type.toLowerCase(), condition_reason: c.reason ?? '' },
          c.status === 'True' ? 1 : 0,
        );
      }
      this.set(
        { node: src.node, condition: 'allowScheduling', condition_reason: '' },
        n.spec.allowScheduling ? 1 : 0,
      );
    },
  });
  new Gauge({
    name: 'longhorn_node_count_total',
    help: 'Total number of nodes',
    registers: [registry],
    collect() {
      this.set(src.caches.nodes.list(src.namespace).length);
    },
  });
  const diskGauge = (
    name: string,
    help: string,
    value: (d: { max: number; avail: number; reserved: number }) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['node', 'disk'],
      registers: [registry],
      collect() {
        this.reset();
        const n = self();
        for (const [disk, ds] of Object.entries(n?.status?.diskStatus ?? {})) {
          const max = ds.storageMaximum ?? 0;
          const avail = ds.storageAvailable ?? 0;
          const reserved = n?.spec.disks?.[disk]?.storageReserved ?? 0;
          this.set({ node: src.node, disk }, value({ max, avail, reserved }));
        }
      },
    });
  diskGauge('longhorn_disk_capacity_bytes', 'The storage capacity of this disk', (d) => d.max);
  diskGauge('longhorn_disk_usage_bytes', 'The used storage of this disk', (d) => d.max - d.avail);
  diskGauge(
    'longhorn_disk_reservation_bytes',
    'The reserved storage for other applications and system on this disk',
    (d) => d.reserved,
  );
  const nodeStorage = (
    name: string,
    help: string,
    value: (d: { max: number; avail: number; reserved: number }) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      collect() {
        this.reset();
        const n = self();
        if (n === undefined) return;
        let total = 0;
        for (const [disk, ds] of Object.entries(n.status?.diskStatus ?? {})) {
          total += value({
            max: ds.storageMaximum ?? 0,
            avail: ds.storageAvailable ?? 0,
            reserved: n.spec.disks?.[disk]?.storageReserved ?? 0,
          });
        }
        this.set({ node: src.node }, total);
      },
    });
  nodeStorage('longhorn_node_storage_capacity_bytes', 'The storage capacity of this node', (d) => d.max);
  nodeStorage('longhorn_node_storage_usage_bytes', 'The used storage of this node', (d) => d.max - d.avail);
  nodeStorage(
    'longhorn_node_storage_reservation_bytes',
    'The reserved storage for other applications and system on this node',
    (d) => d.reserved,
  );
  return registry;
}

/** Serve `/metrics` on host:port (port 0 picks one); resolves with the bound address. */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics' && !req.url?.startsWith('/metrics?')) {
      res.statusCode = req.url === '/healthz' ? 200 : 404;
      res.end(req.url === '/healthz' ? 'ok' : 'not found');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.setHeader('Content-Type', registry.contentType);
        res.end(text);
      },
      (err: Error) => {
        res.statusCode = 500;
        res.end(err.message);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
  return { server, address: `${host}:${bound}` };
}
