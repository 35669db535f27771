import { BlockError } from '../block/block-error.js';
import { parseEnvelopeArg, readKekFile } from '../crypt/index.js';
import type { DataKeyRotator } from '../crypt/rotation-job.js';
import { type IoStatsDevice, zeroIoCounters } from '../frontend/io-stats-device.js';
import type { NbdServer } from '../frontend/nbd/index.js';
import { parseReplicaAddress, type ReplicaTarget } from '../net/replica-address.js';
import { ReplicaClient } from '../protocol/index.js';
import { type QosBlockDevice, QosLimitError, validateQosLimits } from '../qos/index.js';
import type { LayerInfo } from '../replica/types.js';
import { bindServer, grpc, loadService, unary } from '../rpc/grpc-proto.js';
import { directRebuilder } from '../sync/direct-rebuild.js';
import { type CloneArgs, CloneJob } from './clone-job.js';
import type { Engine } from './engine.js';
import { qosLimitsFromWire, qosToWire, type WireQosLimits } from './qos-wire.js';

/** The frontend the engine process serves: started and stopped around reverts. */
export interface Frontend {
  uri(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  server(): NbdServer | null;
}

/** A replica address from a request; a malformed one is the caller's error (INVALID_ARGUMENT). */
function replicaTarget(address: string): ReplicaTarget {
  let target: ReplicaTarget;
  try {
    target = parseReplicaAddress(address);
  } catch (err) {
    throw new BlockError('EINVAL', (err as Error).message);
  }
  if ('path' in target && target.path === '') {
    throw new BlockError(
      'EINVAL',
      `replica address ${JSON.stringify(address)}: expected HOST:PORT or unix:PATH`,
    );
  }
  return target;
}

/** Serves the Engine gRPC service (engine.proto) for one engine on host:port. */
export async function serveEngine(
  engine: Engine,
  frontend: Frontend,
  host: string,
  port: number,
  qos?: QosBlockDevice,
  stats?: IoStatsDevice,
  /** An encrypted volume's data-key rotation (none for a plain volume). */
  keys?: DataKeyRotator,
): Promise<{ server: grpc.Server; port: number }> {
  const service = loadService('engine.proto', 'longhorn.engine.v1.Engine');
  const server = new grpc.Server();
  const clone = new CloneJob(engine, async (a) =>
    ReplicaClient.connect(replicaTarget(a.fromAddress), a.fromReplicaId, { connections: 2 }),
  );
  const volume = async () => ({
    name: engine.volume,
    size: engine.size(),
    robustness: engine.robustness(),
    frontend: frontend.uri(),
    generation: engine.currentGeneration(),
    replicas: engine.status().map((r) => ({
      id: r.id,
      address: r.address,
      mode: r.mode,
      error: r.error ?? '',
      rebuilding: r.rebuild !== undefined,
      rebuildBytesDone: r.rebuild?.bytesDone ?? 0,
      rebuildBytesTotal: r.rebuild?.bytesTotal ?? 0,
      rebuildPercent: r.rebuild?.percent ?? 0,
    })),
    clone: clone.current(),
    ...(keys ? { dataKeyRotation: await keys.status() } : {}),
  });
  const snapshotOut = (l: LayerInfo, head: string) => ({
    ...l,
    parent: l.parent ?? '',
    head: l.name === head,
  });
  server.addService(service.service, {
    volumeGet: unary(async () => volume()),
    volumeExpand: unary(async ({ size }: { size: number }) => {
      await engine.expand(size);
      return volume();
    }),
    frontendStart: unary(async () => {
      await frontend.start();
      return volume();
    }),
    frontendStop: unary(async () => {
      await frontend.stop();
      return volume();
    }),
    replicaAdd: unary(
      async (req: { id: string; address: string; bandwidthLimit: number; background: boolean }) => {
        if (!req.id) throw new BlockError('EINVAL', 'replica id is required');
        const target = replicaTarget(req.address);
        const client = await ReplicaClient.connect(target, req.id);
        const done = engine
          .addReplica(
            { id: req.id, address: req.address, backend: client },
            // The new replica's server pulls the layers from the source's server itself (only
            // differing pieces if it holds old copies); engine-side copy if it cannot.
            directRebuilder({ bandwidthLimit: req.bandwidthLimit }),
          )
          .catch(async (err: unknown) => {
            // A failed add never keeps the client: refused before it joined (a rebuild already
            // runs, already a member, ...) nobody else would close it; ejected, it is closed
            // already and this is a no-op.
            await client.close();
            throw err;
          });
        if (req.background) done.catch(() => {});
        else await done;
        return volume();
      },
    ),
    replicaRemove: unary(async ({ id }: { id: string }) => {
      engine.removeReplica(id);
      return volume();
    }),
    snapshotCreate: unary(async ({ name, labels }: { name: string; labels: Record<string, string> }) => {
      const snapName =
        name ||
        `snap-${new Date()
          .toISOString()
          .replace(/[^0-9]/g, '')
          .slice(0, 14)}`;
      await engine.snapshot(snapName, { labels, userCreated: true });
      const chain = await engine.listSnapshots();
      const head = chain[chain.length - 1]?.name ?? '';
      const snap = chain.find((l) => l.name === snapName);
      if (!snap) throw new BlockError('EIO', `snapshot ${snapName} missing after create`);
      return snapshotOut(snap, head);
    }),
    snapshotList: unary(async () => {
      const chain = await engine.listSnapshots();
      const head = chain[chain.length - 1]?.name ?? '';
      return { snapshots: chain.map((l) => snapshotOut(l, head)) };
    }),
    snapshotDelete: unary(async ({ name }: { name: string }) => {
      await engine.deleteSnapshot(name);
      return {};
    }),
    snapshotPurge: unary(async () => ({ purged: await engine.purgeSnapshots() })),
    snapshotClone: unary(async (req: CloneArgs) => clone.start(req)),
    snapshotCloneStatus: unary(async () => clone.current()),
    snapshotRevert: unary(async ({ name }: { name: string }) => {
      if (frontend.server()) {
        throw new BlockError('EPERM', `volume ${engine.volume}: stop the frontend before reverting`);
      }
      await keys?.checkRevert(name);
      await engine.revert(name);
      return volume();
    }),
    dataKeyRotate: unary(
      async (req: {
        encryption: string;
        previousEncryption: string;
        kekFile: string;
        bandwidthLimit: number;
      }) => {
        if (!keys)
          throw new BlockError(
            'EINVAL',
            `volume ${engine.volume} is not encrypted; there is no data key to rotate`,
          );
        if (!req.kekFile)
          throw new BlockError('EINVAL', 'kekFile is required (the KEK that wraps both data keys)');
        const current = parseEnvelopeArg(req.encryption);
        const previous = parseEnvelopeArg(req.previousEncryption);
        const kek = await readKekFile(req.kekFile);
        try {
          return await keys.rotate({ current, previous, kek, bandwidthLimit: Number(req.bandwidthLimit) });
        } finally {
          kek.fill(0);
        }
      },
    ),
    dataKeyRotationStatus: unary(async () => {
      if (!keys) throw new BlockError('EINVAL', `volume ${engine.volume} is not encrypted`);
      return keys.status();
    }),
    volumeIoStats: unary(async () => stats?.counters() ?? zeroIoCounters()),
    qosGet: unary(async () => {
      if (!qos) throw new BlockError('ENOTSUP', `volume ${engine.volume}: this engine has no QoS layer`);
      return qosToWire(qos.qosStats());
    }),
    qosSet: unary(async (req: WireQosLimits) => {
      if (!qos) throw new BlockError('ENOTSUP', `volume ${engine.volume}: this engine has no QoS layer`);
      try {
        qos.setLimits(validateQosLimits(qosLimitsFromWire(req)));
      } catch (err) {
        if (err instanceof QosLimitError) throw new BlockError('EINVAL', err.message);
        throw err;
      }
      return qosToWire(qos.qosStats());
    }),
  });
  const bound = await bindServer(server, host, port);
  return { server, port: bound };
}
