import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface TlsClientFiles {
  ca?: string;
  cert?: string;
  key?: string;
  /** Skip server verification (component health ports serve self-signed certificates). */
  insecure?: boolean;
}

export interface ProbeResponse {
  status: number;
  body: string;
}

/** One GET with a short timeout; used by readiness probes. */
export function httpGet(url: string, tls: TlsClientFiles = {}, timeoutMs = 2_000): Promise<ProbeResponse> {
  const isHttps = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const options = isHttps
      ? {
          ca: tls.ca ? readFileSync(tls.ca) : undefined,
          cert: tls.cert ? readFileSync(tls.cert) : undefined,
          key: tls.key ? readFileSync(tls.key) : undefined,
          rejectUnauthorized: !tls.insecure,
          timeout: timeoutMs,
        }
      : { timeout: timeoutMs };
    const req = (isHttps ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves true on a 200 whose body passes `accept` (default: any); throws otherwise. */
export async function probeOk(
  url: string,
  tls: TlsClientFiles = {},
  accept: (body: string) => boolean = () => true,
): Promise<true> {
  const res = await httpGet(url, tls);
  if (res.status !== 200 || !accept(res.body)) {
    throw new Error(`GET ${url}: ${res.status} ${res.body.slice(0, 200)}`);
  }
  return true;
}
