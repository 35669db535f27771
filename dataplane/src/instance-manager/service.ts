import { bindServer, grpc, loadService, unary } from '../rpc/grpc-proto.js';
import type { ProcessInfo, ProcessKind, ProcessSupervisor } from './process-supervisor.js';

export const VERSION = '0.1.0';

interface CreateRequest {
  name: string;
  kind: string;
  args: string[];
  restart: boolean;
}

/** Serves the InstanceManager gRPC service of one node on host:port; returns the bound port. */
export async function serveInstanceManager(
  supervisor: ProcessSupervisor,
  node: string,
  host: string,
  port: number,
): Promise<{ server: grpc.Server; port: number }> {
  const service = loadService('instance-manager.proto', 'longhorn.instancemanager.v1.InstanceManager');
  const server = new grpc.Server();
  server.addService(service.service, {
    processCreate: unary((req: CreateRequest) =>
      supervisor.create(req.name, req.kind as ProcessKind, req.args ?? [], req.restart),
    ),
    processDelete: unary(({ name }: { name: string }) => supervisor.delete(name)),
    processGet: unary(async ({ name }: { name: string }) => supervisor.get(name)),
    processList: unary(async () => ({ processes: supervisor.list() as ProcessInfo[] })),
    processLog: unary(async ({ name }: { name: string }) => ({ lines: supervisor.logs(name) })),
    versionGet: unary(async () => ({ version: VERSION, node })),
  });
  const bound = await bindServer(server, host, port);
  return { server, port: bound };
}
