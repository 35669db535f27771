import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { type ControllerTimeouts, controllerService } from './controller/controller-service.js';
import { identityService } from './identity.js';
import type { LonghornObjects } from './k8s/longhorn-objects.js';
import { NbdAttacher } from './node/nbd-attach.js';
import { type NodeIdentity, nodeService } from './node/node-service.js';
import { implement } from './rpc/edge.js';
import { csiServices, grpc } from './rpc/proto.js';
import { VolumeLocks } from './rpc/volume-locks.js';

export type DriverMode = 'controller' | 'node' | 'both';

export interface DriverOptions {
  /** `unix:///path.sock` */
  endpoint: string;
  mode: DriverMode;
  node: NodeIdentity;
  objects: LonghornObjects;
  /** Where the node plugin keeps its nbdfuse mounts (one directory per staged volume). */
  stateDir: string;
  log: Logger;
  timeouts?: Partial<ControllerTimeouts>;
}

export function socketPath(endpoint: string): string {
  const m = /^unix:\/\/(\/.+)$/.exec(endpoint);
  if (!m) throw new Error(`endpoint ${endpoint} is not unix:///absolute/path.sock`);
  return m[1]!;
}

/** The CSI driver's gRPC server on a Unix socket: Identity, and Controller and/or Node. */
export async function startDriver(
  options: DriverOptions,
): Promise<{ server: grpc.Server; stop: () => Promise<void> }> {
  const services = csiServices();
  const locks = new VolumeLocks();
  const deps = { locks, log: options.log };
  const server = new grpc.Server();
  const controller = options.mode !== 'node';
  server.addService(
    services.Identity.service,
    implement(identityService({ controller, ready: async () => true }), deps),
  );
  if (controller) {
    server.addService(
      services.Controller.service,
      implement(controllerService({ objects: options.objects, timeouts: options.timeouts ?? {} }), deps),
    );
  }
  if (options.mode !== 'controller') {
    const attacher = new NbdAttacher(options.stateDir, options.log.child({ component: 'attach' }));
    server.addService(
      services.Node.service,
      implement(nodeService({ identity: options.node, objects: options.objects, attacher }), deps),
    );
  }
  const path = socketPath(options.endpoint);
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true }); // a socket left by an earlier run
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(options.endpoint, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          rm(path, { force: true }).then(
            () => resolve(),
            () => resolve(),
          );
        });
      }),
  };
}
