/**
 * The HTTP edge: POST /filter and /prioritize (JSON in, JSON out), GET /healthz. Every bad
 * request is answered (400 malformed or wrong shape, 404, 405, 413 over the body limit), logged
 * once, and never takes the process down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ClusterView } from './cluster-view.js';
import { filter, prioritize } from './extender.js';
import { type CheckedArgs, checkExtenderArgs } from './extender-api.js';
import { FILTER_VERB, PRIORITIZE_VERB } from './scheduler-configuration.js';

export const MAX_BODY_BYTES = 1 << 20;

export interface ExtenderServerOptions {
  view: ClusterView;
  logger: Logger;
  maxBodyBytes?: number;
}

const VERBS: Record<string, (args: CheckedArgs, view: ClusterView) => unknown> = {
  [`/${FILTER_VERB}`]: filter,
  [`/${PRIORITIZE_VERB}`]: prioritize,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(close && { connection: 'close' }),
  });
  res.end(text);
}

/** The body as text; rejects with 413 past `limit` bytes (the rest is drained, not kept). */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      req.resume();
      reject(new HttpError(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, `request body is over the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size).toString('utf8'));
    });
    req.on('error', (err) => reject(new HttpError(400, `reading the request failed: ${err.message}`)));
  });
}

export function createExtenderServer(options: ExtenderServerOptions): Server {
  const log = options.logger;
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const verb = VERBS[path];
    if (verb === undefined)
      throw new HttpError(404, `no such verb ${path} (use /${FILTER_VERB} or /${PRIORITIZE_VERB})`);
    if (req.method !== 'POST') throw new HttpError(405, `${path} takes POST, not ${req.method}`);
    const text = await readBody(req, limit);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `malformed JSON: ${(err as Error).message}`);
    }
    const checked = checkExtenderArgs(body);
    if (!checked.ok) throw new HttpError(400, checked.error);
    const t0 = performance.now();
    const result = verb(checked.args, options.view);
    log.debug(
      {
        verb: path.slice(1),
        pod: `${checked.args.pod.metadata?.namespace}/${checked.args.pod.metadata?.name}`,
        ms: performance.now() - t0,
      },
      'answered',
    );
    send(res, 200, result);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) log.error({ err, url: req.url }, 'request failed');
      else log.warn({ status, url: req.url, error: message }, 'bad request');
      // A body we stopped reading: close the connection after the answer rather than read on.
      send(res, status, { Error: message }, status === 413);
    });
  });
  // Slow or stalled clients must not pin sockets: the scheduler's own timeout is seconds.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 30_000;
  return server;
}
