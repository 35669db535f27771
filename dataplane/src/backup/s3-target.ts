import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { BackupError } from './errors.js';
import { type BackupTarget, newRequestCounts } from './target.js';

/** Bounds on one S3 request attempt: the TCP (and TLS) connect, and the whole request and response. */
export const S3_CONNECT_TIMEOUT_MS = 10_000;
export const S3_REQUEST_TIMEOUT_MS = 120_000;

/**
 * An S3 bucket path as a backupstore (`s3://bucket@region/path`), with Longhorn's Secret keys:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), AWS_CERT (a PEM CA to
 * trust for the endpoint, optional), AWS_ENDPOINTS (an
 * endpoint other than AWS, e.g. MinIO: path-style addressing then, unless VIRTUAL_HOSTED_STYLE
 * is "true"). Errors are mapped once, here: refused credentials -> ACCESS_DENIED, a target that
 * does not answer -> UNREACHABLE, a missing object or bucket -> NOT_FOUND.
 */
export interface S3Location {
  bucket: string;
  region: string;
  /** Key prefix of the store's root, without leading or trailing '/'. */
  prefix: string;
}

export type Credentials = Record<string, string>;

export class S3Target implements BackupTarget {
  readonly kind = 's3';
  readonly requests = newRequestCounts();
  private readonly client: S3Client;

  constructor(
    private readonly loc: S3Location,
    readonly url: string,
    creds: Credentials,
    timeouts: { connectMs?: number; requestMs?: number } = {},
  ) {
    const accessKeyId = creds.AWS_ACCESS_KEY_ID;
    const secretAccessKey = creds.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new BackupError(
        'INVALID_ARGUMENT',
        `backup target ${url}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (credentials file or environment)`,
        { target: url },
      );
    }
    const endpoint = creds.AWS_ENDPOINTS?.trim() || undefined;
    const virtualHosted = creds.VIRTUAL_HOSTED_STYLE;
    const forcePathStyle =
      virtualHosted === 'true' ? false : virtualHosted === 'false' || endpoint !== undefined;
    this.client = new S3Client({
      region: loc.region || creds.AWS_REGION || 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle,
      credentials: {
        accessKeyId,
        secretAccessKey,
        ...(creds.AWS_SESSION_TOKEN ? { sessionToken: creds.AWS_SESSION_TOKEN } : {}),
      },
      maxAttempts: 3,
      requestHandler: {
        // The SDK waits forever by default: a store that stops answering mid-request would hang
        // a backup or a restore for good. Each attempt gets a bound (retried up to maxAttempts).
        connectionTimeout: timeouts.connectMs ?? S3_CONNECT_TIMEOUT_MS,
        requestTimeout: timeouts.requestMs ?? S3_REQUEST_TIMEOUT_MS,
        throwOnRequestTimeout: true,
        // AWS_CERT (Longhorn's key): a PEM CA the endpoint's certificate is checked against, on
        // top of the system's (a MinIO with its own CA).
        ...(creds.AWS_CERT?.trim()
          ? { httpsAgent: new Agent({ keepAlive: true, ca: [...rootCertificates, creds.AWS_CERT] }) }
          : {}),
      },
      // Longhorn's blocks are small objects written once: no checksum trailers MinIO may refuse.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private key(path: string): string {
    return this.loc.prefix ? `${this.loc.prefix}/${path}` : path;
  }

  async check(): Promise<void> {
    this.requests.list++;
    try {
      await this.client.send(
        new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: this.key(''), MaxKeys: 1 }),
      );
    } catch (err) {
      throw this.mapError(err, '');
    }
  }

  async get(path: string): Promise<Buffer> {
    this.requests.get++;
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.key(path) }),
      );
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async put(path: string, data: Buffer): Promise<void> {
    this.requests.put++;
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.loc.bucket,
          Key: this.key(path),
          Body: data,
          ContentLength: data.length,
        }),
      );
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.head(path);
      return true;
    } catch (err) {
      if ((err as BackupError).code === 'NOT_FOUND') return false;
      throw err;
    }
  }

  async modified(path: string): Promise<Date> {
    const out = await this.head(path);
    return out.LastModified ?? new Date(0);
  }

  private async head(path: string) {
    this.requests.head++;
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: this.key(path) }));
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async list(dir: string): Promise<string[]> {
    const prefix = `${this.key(dir).replace(/\/$/, '')}/`;
    const names: string[] = [];
    await this.paginate(
      prefix,
      '/',
      (key) => names.push(key),
      (p) => names.push(p.replace(/\/$/, '')),
    );
    return names;
  }

  async listAll(dir: string): Promise<string[]> {
    const prefix = `${this.key(dir).replace(/\/$/, '')}/`;
    const keys: string[] = [];
    await this.paginate(
      prefix,
      undefined,
      (key) => keys.push(key),
      () => {},
    );
    return keys;
  }

  private async paginate(
    prefix: string,
    delimiter: string | undefined,
    onKey: (rel: string) => void,
    onPrefix: (rel: string) => void,
  ): Promise<void> {
    let token: string | undefined;
    do {
      this.requests.list++;
      let out: ListObjectsV2CommandOutput;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.loc.bucket,
            Prefix: prefix,
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (err) {
        throw this.mapError(err, prefix);
      }
      for (const c of out.Contents ?? [])
        if (c.Key && c.Key.length > prefix.length) onKey(c.Key.slice(prefix.length));
      for (const p of out.CommonPrefixes ?? []) if (p.Prefix) onPrefix(p.Prefix.slice(prefix.length));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async copy(from: string, to: string): Promise<void> {
    this.requests.copy++;
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.loc.bucket,
          Key: this.key(to),
          CopySource: `${this.loc.bucket}/${this.key(from).split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    } catch (err) {
      throw this.mapError(err, to);
    }
  }

  async remove(path: string): Promise<void> {
    this.requests.delete++;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key: this.key(path) }));
    } catch (err) {
      const mapped = this.mapError(err, path);
      if (mapped.code !== 'NOT_FOUND' || /bucket/i.test(mapped.message)) throw mapped;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private mapError(err: unknown, path: string): BackupError {
    const ctx = { target: this.url, path };
    const where = `backup target ${this.url}${path ? ` (${path})` : ''}`;
    if (err instanceof S3ServiceException) {
      const name = err.name;
      const status = err.$metadata?.httpStatusCode;
      if (
        [
          'InvalidAccessKeyId',
          'SignatureDoesNotMatch',
          'AccessDenied',
          'InvalidToken',
          'ExpiredToken',
        ].includes(name) ||
        status === 403
      ) {
        return new BackupError('ACCESS_DENIED', `${where}: credentials refused (${name})`, ctx, err);
      }
      if (name === 'NoSuchBucket')
        return new BackupError('NOT_FOUND', `${where}: no bucket ${this.loc.bucket}`, ctx, err);
      if (name === 'NoSuchKey' || name === 'NotFound' || status === 404)
        return new BackupError('NOT_FOUND', `${where}: not found`, ctx, err);
      return new BackupError('EIO', `${where}: ${name}: ${err.message}`, ctx, err);
    }
    const code = (err as NodeJS.ErrnoException)?.code ?? '';
    const text = err instanceof Error ? err.message : String(err);
    if (
      [
        'ECONNREFUSED',
        'ENOTFOUND',
        'EAI_AGAIN',
        'ETIMEDOUT',
        'ECONNRESET',
        'EHOSTUNREACH',
        'ENETUNREACH',
      ].includes(code) ||
      (err as Error)?.name === 'TimeoutError'
    ) {
      return new BackupError('UNREACHABLE', `${where}: unreachable (${code || text})`, ctx, err);
    }
    return new BackupError('EIO', `${where}: ${text}`, ctx, err);
  }
}
