/**
 * The HTTPS edge: express serving AdmissionReview v1 on the validation and mutation paths,
 * /healthz, a body-size limit, and one error handler where anything thrown becomes an HTTP 400
 * (a body that is not an AdmissionReview) or 413 (too big) with a message. A request that is
 * a review but cannot be judged is answered with a denial, never a crash.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { AdmissionContext } from './admission/context.js';
import {
  type AdmissionRequest,
  type AdmissionResponse,
  BadReviewError,
  parseAdmissionReview,
  reviewResponse,
} from './admission/review.js';
import type { Verdict } from './admission/verdict.js';
import { mutateRequest, validateRequest } from './admit.js';

export const VALIDATION_PATH = '/v1/webhook/validation';
export const MUTATION_PATH = '/v1/webhook/mutation';
export const HEALTH_PATH = '/healthz';
/** The API server sends at most ~3 MiB objects (etcd's limit is 1.5 MiB, old and new object both ride along). */
export const DEFAULT_BODY_LIMIT = '4mb';

export interface AdmissionAppOptions {
  context: () => AdmissionContext;
  logger: Logger;
  bodyLimit?: string;
}

function responseFor(request: AdmissionRequest, verdict: Verdict): AdmissionResponse {
  return {
    uid: request.uid,
    allowed: verdict.allowed,
    ...(!verdict.allowed && {
      status: {
        code: verdict.code ?? 400,
        message: verdict.message ?? 'denied',
        reason: verdict.code === 403 ? 'Forbidden' : verdict.code === 500 ? 'InternalError' : 'BadRequest',
      },
    }),
    ...(verdict.warnings.length > 0 && { warnings: verdict.warnings }),
  };
}

function logDecision(
  log: Logger,
  endpoint: string,
  request: AdmissionRequest,
  verdict: Verdict,
  patchOps = 0,
): void {
  const fields = {
    endpoint,
    uid: request.uid,
    kind: request.kind.kind,
    operation: request.operation,
    namespace: request.namespace,
    name: request.object?.metadata?.name ?? request.name,
    allowed: verdict.allowed,
    patchOps,
  };
  if (verdict.allowed) log.debug(fields, 'admitted');
  else log.info({ ...fields, message: verdict.message }, 'denied');
}

export function createAdmissionApp(options: AdmissionAppOptions): express.Express {
  const log = options.logger;
  const app = express();
  app.disable('x-powered-by');
  app.get(HEALTH_PATH, (_req, res) => {
    res.type('text/plain').send('ok');
  });
  // Any content type: a review sent without application/json is still read (and judged) as JSON.
  const json = express.json({
    limit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    type: () => true,
    strict: true,
  });

  app.post(VALIDATION_PATH, json, (req: Request, res: Response) => {
    const request = parseAdmissionReview(req.body);
    const verdict = validateRequest(request, options.context());
    logDecision(log, 'validation', request, verdict);
    res.json(reviewResponse(responseFor(request, verdict)));
  });

  app.post(MUTATION_PATH, json, (req: Request, res: Response) => {
    const request = parseAdmissionReview(req.body);
    const { verdict, patch } = mutateRequest(request, options.context());
    logDecision(log, 'mutation', request, verdict, patch.length);
    const response = responseFor(request, verdict);
    if (verdict.allowed && patch.length > 0) {
      response.patchType = 'JSONPatch';
      response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
    }
    res.json(reviewResponse(response));
  });

  app.use((_req: Request, res: Response) => {
    res
      .status(404)
      .json({ message: `no such endpoint; POST AdmissionReviews to ${VALIDATION_PATH} or ${MUTATION_PATH}` });
  });

  // The one catch: whatever went wrong above becomes a status and a message.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    let status = 500;
    let message = 'internal error';
    if (err instanceof BadReviewError) {
      status = 400;
      message = err.message;
    } else if (e.type === 'entity.too.large') {
      status = 413;
      message = `the body is larger than ${options.bodyLimit ?? DEFAULT_BODY_LIMIT}`;
    } else if (e.type === 'entity.parse.failed') {
      status = 400;
      message = `the body is not valid JSON: ${e.message ?? ''}`;
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      status = e.status;
      message = e.message ?? message;
    }
    if (status >= 500) log.error({ err, path: req.path }, 'admission request failed');
    else log.info({ status, path: req.path, message }, 'bad admission request');
    if (!res.headersSent) res.status(status).json({ message });
  });
  return app;
}

export interface TlsPair {
  key: string;
  cert: string;
}

export interface AdmissionServer {
  server: Server;
  /** https://host:port */
  url: string;
  port: number;
  /** New certificate for new connections; open ones finish on the old. */
  setCertificate(pair: TlsPair): void;
  close(): Promise<void>;
}

export async function startAdmissionServer(
  options: AdmissionAppOptions & { host: string; port: number; tls: TlsPair },
): Promise<AdmissionServer> {
  const app = createAdmissionApp(options);
  const server = createServer({ key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' }, app);
  // The API server calls with its own timeout (timeoutSeconds); a client that trickles bytes is cut off.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 30_000;
  server.on('tlsClientError', (err) => options.logger.debug({ err }, 'TLS handshake failed'));
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    server,
    url: `https://${host}:${port}`,
    port,
    setCertificate: (pair) =>
      server.setSecureContext({ key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
