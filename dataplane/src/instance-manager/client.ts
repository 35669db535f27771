import { callUnary, grpc, loadService } from '../rpc/grpc-proto.js';
import type { ProcessInfo, ProcessKind } from './process-supervisor.js';

/** A typed client of one node's instance manager. */
export class InstanceManagerClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    const Service = loadService('instance-manager.proto', 'longhorn.instancemanager.v1.InstanceManager');
    this.client = new Service(address, grpc.credentials.createInsecure());
  }

  create(name: string, kind: ProcessKind, args: string[], restart = true): Promise<ProcessInfo> {
    return callUnary(this.client, 'processCreate', { name, kind, args, restart }, 90_000);
  }

  delete(name: string): Promise<ProcessInfo> {
    return callUnary(this.client, 'processDelete', { name }, 30_000);
  }

  get(name: string): Promise<ProcessInfo> {
    return callUnary(this.client, 'processGet', { name });
  }

  async list(): Promise<ProcessInfo[]> {
    const res = await callUnary<{ processes: ProcessInfo[] }>(this.client, 'processList', {});
    return res.processes;
  }

  async logs(name: string): Promise<string[]> {
    const res = await callUnary<{ lines: string[] }>(this.client, 'processLog', { name });
    return res.lines;
  }

  version(): Promise<{ version: string; node: string }> {
    return callUnary(this.client, 'versionGet', {}, 5000);
  }

  close(): void {
    this.client.close();
  }
}
