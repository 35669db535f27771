import { csiServices, grpc } from './rpc/proto.js';

/** A failed call: the gRPC status code (number and name) and the driver's message. */
export class CsiCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${method}: ${grpc.status[code]} (${code}): ${details}`);
    this.name = 'CsiCallError';
  }

  get codeName(): string {
    return grpc.status[this.code] ?? String(this.code);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: responses are csi.proto messages; proto-loader gives no types
type Reply = any;
type Call = (request: object, options?: { timeoutMs?: number }) => Promise<Reply>;
type Callback = (err: grpc.ServiceError | null, response: unknown) => void;
type Method = (request: object, options: grpc.CallOptions, callback: Callback) => void;

const lowerFirst = (s: string) => s[0]!.toLowerCase() + s.slice(1);

/**
 * A promise client of the three CSI services on one socket, for tests and the harness's kubelet
 * stand-in: `client.nodeStageVolume({...})`, `client.createVolume({...})`... (request shapes as
 * @grpc/proto-loader maps csi.proto: camelCase). Failures are CsiCallError.
 */
export class CsiClient {
  private readonly clients: grpc.Client[] = [];
  readonly calls: Record<string, Call> = {};

  constructor(endpoint: string) {
    const services = csiServices();
    for (const ctor of [services.Identity, services.Controller, services.Node]) {
      const client = new ctor(endpoint, grpc.credentials.createInsecure());
      this.clients.push(client);
      for (const method of Object.keys(ctor.service)) {
        const fn = (client as unknown as Record<string, Method>)[method]!.bind(client);
        this.calls[lowerFirst(method)] = (request, options = {}) =>
          new Promise((resolve, reject) => {
            const deadline = new Date(Date.now() + (options.timeoutMs ?? 300_000));
            fn(request, { deadline }, (err, response) => {
              if (err) reject(new CsiCallError(method, err.code, err.details));
              else resolve(response);
            });
          });
      }
    }
  }

  call(method: string, request: object = {}, options?: { timeoutMs?: number }): Promise<Reply> {
    const fn = this.calls[method];
    if (!fn) throw new Error(`no CSI method ${method}`);
    return fn(request, options);
  }

  // The Node calls kubelet makes (the harness's kubelet-csi helpers take an object with these).
  nodeGetCapabilities = (r: object) => this.call('nodeGetCapabilities', r);
  nodeStageVolume = (r: object) => this.call('nodeStageVolume', r);
  nodeUnstageVolume = (r: object) => this.call('nodeUnstageVolume', r);
  nodePublishVolume = (r: object) => this.call('nodePublishVolume', r);
  nodeUnpublishVolume = (r: object) => this.call('nodeUnpublishVolume', r);

  close(): void {
    for (const c of this.clients) c.close();
  }
}
