import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { CsiError, codeOf, toServiceError } from '../errors.js';
import { redactSecrets } from './redact.js';
import type { VolumeLocks } from './volume-locks.js';

/** What a handler knows about its call besides the request. */
export interface CallContext {
  /** Epoch ms by which the caller stops waiting; undefined when it set no deadline. */
  deadline: number | undefined;
  log: Logger;
}

// biome-ignore lint/suspicious/noExplicitAny: each handler types its own csi.proto request
export type Handler<Req = any, Res = unknown> = (request: Req, ctx: CallContext) => Promise<Res>;

// biome-ignore lint/suspicious/noExplicitAny: as Handler
export interface RpcSpec<Req = any, Res = unknown> {
  handler: Handler<Req, Res>;
  /**
   * The volume this call acts on: calls on one volume are serialised (a second one while the
   * first runs is ABORTED). Undefined for read-only and volume-less calls.
   */
  volumeOf?: (request: Req) => string | undefined;
  /** Logged at debug rather than info (probes, lists, stats: the sidecars call them often). */
  quiet?: boolean;
}

export type ServiceSpec = Record<string, RpcSpec>;

// Clients without a deadline get this much: long enough for an attach, short enough not to hang.
function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The one edge every RPC passes through: logs the request with secrets redacted, takes the
 * volume's lock (ABORTED when another operation holds it), runs the handler, and turns what it
 * threw into a gRPC status with the one table in errors.ts. A handler bug answers INTERNAL and
 * never takes the process down.
 */
export function edge(
  method: string,
  spec: RpcSpec,
  deps: { locks: VolumeLocks; log: Logger },
): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const request = call.request as Record<string, unknown>;
    const volume = spec.volumeOf?.(request) || undefined;
    const log = deps.log.child({ rpc: method, ...(volume ? { volume } : {}) });
    const t0 = Date.now();
    log[spec.quiet ? 'debug' : 'info']({ request: redactSecrets(request) }, 'request');
    const finish = (err: unknown, response?: unknown) => {
      const ms = Date.now() - t0;
      if (err === undefined) {
        log[spec.quiet ? 'debug' : 'info']({ ms, response }, 'ok');
        callback(null, response);
        return;
      }
      const code = codeOf(err);
      const message = err instanceof Error ? err.message : String(err);
      if (code === 'INTERNAL') log.error({ ms, err }, 'failed');
      else log.warn({ ms, code, message }, 'refused');
      callback(toServiceError(err) as grpc.ServiceError);
    };
    if (volume !== undefined && !deps.locks.tryAcquire(volume, method)) {
      const holder = deps.locks.holder(volume);
      finish(new CsiError('BUSY', `an operation on volume ${volume} is already in progress (${holder})`));
      return;
    }
    let result: Promise<unknown>;
    try {
      result = spec.handler(request, { deadline: deadlineOf(call), log });
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (response) => {
        if (volume !== undefined) deps.locks.release(volume);
        finish(undefined, response);
      },
      (err: unknown) => {
        if (volume !== undefined) deps.locks.release(volume);
        finish(err ?? new Error('handler failed without an error'));
      },
    );
  };
}

/** A gRPC service implementation: every method of `spec` behind the edge. */
export function implement(spec: ServiceSpec, deps: { locks: VolumeLocks; log: Logger }) {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, rpc] of Object.entries(spec)) {
    // grpc-js looks methods up by their camelCase name (originalName) or the proto name.
    impl[method] = edge(method, rpc, deps);
  }
  return impl;
}
