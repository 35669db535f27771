import { randomUUID, webcrypto } from 'node:crypto';
import { BlockError } from '../block/block-error.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { parseReplicaAddress } from '../net/replica-address.js';
import { TokenBucket } from '../net/token-bucket.js';
import { ReplicaClient } from '../protocol/client.js';
import type { ControlOps } from '../protocol/control-ops.js';
import type { SyncFromArgs, SyncStatus } from '../protocol/sync-ops.js';
import type { ByteRange, LayerImport, LayerInfo, LayerStore, ReplicaStore } from '../replica/types.js';
import { COPY_CHUNK } from './copy-plan.js';
import { compareRuns, planLayerDiff, rangeBytes, type Window } from './diff-plan.js';

/**
 * Replica-to-replica rebuild, the replica server's side (Longhorn's sync agent): the engine
 * asks the TARGET replica (`syncFrom`) to pull layers from the source replica's server itself,
 * so the data crosses one hop instead of two and never passes through the engine process.
 *
 * The job, per layer (oldest first): allocated ranges of the source's layer; if the target
 * already holds a layer of that name (a returning replica), per 2 MiB window with identical
 * allocation on both sides the SHA-512 of both copies is compared and only differing windows
 * are pulled, the rest copied locally from the old copy; a layer whose windows, allocation and
 * metadata all match is not touched at all. Pulled data goes into staged layers
 * (`importLayer`/`writeLayer`), committed at once by `finishImport`, which also drops layers
 * the target holds but the source no longer has. Any failure or cancellation drops the staged
 * layers, leaving the target as it was.
 *
 * Control ops (`controlOps`, which a server's entry point hands to its ReplicaServer):
 * `syncFrom` starts a job and returns at once; `syncProgress` reports it (and renews its lease:
 * a job nobody polls for `leaseMs` cancels itself, so an engine that died does not leave a sync
 * running); `abortImport` cancels a running job and drops whatever is staged; `syncSource` lets
 * a job read a source served by this same agent from its store directly.
 */

type Store = ReplicaStore & LayerStore;

interface Job {
  status: SyncStatus;
  /** When the current phase began (performance.now()), for `phaseMs`. */
  phaseStart: number;
  abort: AbortController;
  client: ReplicaClient | null;
  done: Promise<void>;
  lastPoll: number;
  leaseMs: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Largest range of one layerChecksums request. The source's server hashes a request on its
 * event loop, so this bounds how long one request delays that server's other I/O (~50 ms).
 */
const MAX_COMPARE_BYTES = 32 * 1024 * 1024;
/** Checksum requests in flight (the source hashes one while we hash the other). */
const COMPARE_IN_FLIGHT = 2;
/** Local copy workers (old copy -> staged layer, no network). */
const LOCAL_WORKERS = 2;
/** Handles given out by `syncSource` and not yet used; bounded (oldest dropped). */
const MAX_LOCAL_SOURCES = 64;

/** The source: its store (same agent; reads into the worker's buffer) or a client. */
interface LayerReader {
  readLayer(name: string, offset: number, length: number, into?: Buffer): Promise<Buffer>;
}

/**
 * One replica server's sync agent: the sync jobs of the replicas it serves (at most one per
 * target replica) and their control ops. Each server's entry point makes one; servers given the
 * same agent (say, two in one test process) read each other's sources directly.
 */
export class SyncAgent {
  /**
   * The server's bulk-transfer budget (ReplicaServerOptions.bulkBandwidthLimit): a job reading
   * its source from this agent's own store (no socket, so the server does not see the reads)
   * takes from it itself. Unlimited when the entry point gives none.
   */
  constructor(private readonly bulk: TokenBucket = new TokenBucket(0)) {}

  private readonly jobs = new WeakMap<ReplicaStore, Job>();
  /** Tells a job whether a source replica is served by this agent (see `source`). */
  private readonly token = randomUUID();
  /** Handles given out by `source`, each used at most once. */
  private readonly localSources = new Map<string, WeakRef<ReplicaStore>>();

  /** The control ops this agent serves (`abortImport` replaces the plain store call). */
  readonly controlOps: ControlOps = {
    syncFrom: (s, a) => this.start(s, a),
    syncProgress: (s) => this.progress(s),
    syncSource: (s) => this.source(s),
    // Also cancels a running syncFrom (its staged layers are dropped).
    abortImport: (s) => this.cancelAndAbortImport(s),
  };

  /** `syncFrom`: starts pulling; answers at once. Refused while a job runs on this replica. */
  start(store: ReplicaStore, rawArgs: Record<string, unknown>): { started: true } {
    const target = layerStore(store);
    const args = parseArgs(rawArgs);
    const current = this.jobs.get(store);
    if (current && current.status.state === 'running')
      throw new BlockError('EPERM', `a sync from ${current.status.source} is already running`);
    const job: Job = {
      status: { ...idle(), state: 'running', phase: 'connect', source: args.source },
      phaseStart: performance.now(),
      abort: new AbortController(),
      client: null,
      done: Promise.resolve(),
      lastPoll: Date.now(),
      leaseMs: args.leaseMs ?? 30_000,
      timer: null,
    };
    job.timer = setInterval(
      () => {
        if (Date.now() - job.lastPoll > job.leaseMs) {
          cancel(job, new BlockError('EIO', `nobody polled the sync for ${job.leaseMs} ms`));
        }
      },
      Math.min(1000, job.leaseMs),
    );
    job.timer.unref();
    this.jobs.set(store, job);
    job.done = runJob(job, target, args, (client) =>
      this.sourceReader(client, args.viaSocket === true),
    ).finally(() => {
      if (job.timer) clearInterval(job.timer);
    });
    return { started: true };
  }

  /** `syncProgress`: the running or last job's status (idle if none). Renews the job's lease. */
  progress(store: ReplicaStore): SyncStatus {
    const job = this.jobs.get(store);
    if (!job) return idle();
    job.lastPoll = Date.now();
    return { ...job.status, layersSkipped: [...job.status.layersSkipped] };
  }

  /**
   * `abortImport`: cancels a running job (waiting until it stopped and dropped its staged
   * layers), then drops anything else staged. A job already committing finishes first.
   */
  async cancelAndAbortImport(store: ReplicaStore): Promise<void> {
    const job = this.jobs.get(store);
    if (job && job.status.state === 'running') {
      cancel(job, new BlockError('EIO', 'cancelled'));
      await job.done;
    }
    await layerStore(store).abortImport();
  }

  /**
   * `syncSource`, asked on the SOURCE's connection by a job: a handle through which a job of
   * this same agent (source and target on one replica server) reads the source's layers from
   * its store directly instead of through a socket to itself. (`process` names the agent; the
   * wire kept the field's first name.)
   */
  source(store: ReplicaStore): { process: string; handle: string } {
    layerStore(store);
    const handle = randomUUID();
    this.localSources.set(handle, new WeakRef(store));
    if (this.localSources.size > MAX_LOCAL_SOURCES)
      this.localSources.delete(this.localSources.keys().next().value!);
    return { process: this.token, handle };
  }

  /** The source's store when this agent serves it, else the client. */
  private async sourceReader(client: ReplicaClient, viaSocket: boolean): Promise<LayerReader> {
    if (viaSocket) return client;
    let reply: { process?: string; handle?: string };
    try {
      reply = (await client.control('syncSource')) as typeof reply;
    } catch (err) {
      if ((err as BlockError).code === 'ENOTSUP') return client; // a server without the shortcut
      throw err;
    }
    if (reply.process !== this.token || typeof reply.handle !== 'string') return client;
    const store = this.localSources.get(reply.handle)?.deref();
    this.localSources.delete(reply.handle);
    if (!store) return client;
    const local = layerStore(store);
    const bulk = this.bulk;
    return {
      async readLayer(name, offset, length, into) {
        await bulk.take(length);
        return local.readLayer(name, offset, length, into);
      },
    };
  }
}

function idle(): SyncStatus {
  return {
    state: 'idle',
    phase: '',
    source: '',
    bytesTotal: 0,
    bytesDone: 0,
    bytesFetched: 0,
    bytesReused: 0,
    bytesCompared: 0,
    layersSkipped: [],
    layersDropped: [],
    phaseMs: {},
  };
}

function layerStore(store: ReplicaStore): Store {
  const s = store as Partial<LayerStore>;
  if (typeof s.importLayer !== 'function' || typeof s.readLayer !== 'function')
    throw new BlockError('ENOTSUP', 'replica store offers no layer access');
  return store as Store;
}

function parseArgs(args: Record<string, unknown>): SyncFromArgs {
  const { source, sourceReplicaId, layers } = args;
  if (typeof source !== 'string' || source.length === 0)
    throw new BlockError('EINVAL', 'source must be "host:port" or "unix:/path"');
  try {
    parseReplicaAddress(source);
  } catch (err) {
    throw new BlockError('EINVAL', (err as Error).message);
  }
  if (typeof sourceReplicaId !== 'string' || sourceReplicaId.length === 0)
    throw new BlockError('EINVAL', 'sourceReplicaId must be a non-empty string');
  if (!Array.isArray(layers) || layers.length === 0)
    throw new BlockError('EINVAL', 'layers must be a non-empty array');
  for (const l of layers) {
    if (typeof l !== 'object' || l === null || typeof (l as LayerImport).name !== 'string')
      throw new BlockError('EINVAL', 'every layer needs a name');
  }
  const num = (key: string, min: number, max: number): number | undefined => {
    const v = args[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      throw new BlockError('EINVAL', `${key} must be an integer in [${min}, ${max}]`);
    return v;
  };
  const chunkSize = num('chunkSize', 4096, 32 * 1024 * 1024);
  if (chunkSize !== undefined && chunkSize % 4096 !== 0)
    throw new BlockError('EINVAL', 'chunkSize must be a multiple of 4096');
  return {
    source,
    sourceReplicaId,
    layers: layers as LayerImport[],
    bandwidthLimit: num('bandwidthLimit', 0, Number.MAX_SAFE_INTEGER),
    chunkSize,
    workers: num('workers', 1, 64),
    leaseMs: num('leaseMs', 100, 24 * 3600 * 1000),
    viaSocket: args.viaSocket === true,
  };
}

function enterPhase(job: Job, phase: string): void {
  const now = performance.now();
  const { status } = job;
  const prev = status.phase;
  if (prev) status.phaseMs[prev] = Math.round((status.phaseMs[prev] ?? 0) + now - job.phaseStart);
  status.phase = phase;
  job.phaseStart = now;
}

function cancel(job: Job, reason: BlockError): void {
  if (job.abort.signal.aborted || job.status.phase === 'commit') return;
  job.abort.abort(reason);
  job.client?.close().catch(() => {});
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}

/** One window's worth of data ranges of one layer (at most one chunk). */
interface Piece {
  layer: string;
  ranges: ByteRange[];
  /** Data bytes in `ranges`. */
  bytes: number;
}

interface LayerPlan {
  meta: LayerImport;
  /** Stage the layer (false: the target's copy already equals the source's). */
  stage: boolean;
  fetch: Piece[];
  reuse: Piece[];
}

async function runJob(
  job: Job,
  store: Store,
  args: SyncFromArgs,
  sourceReader: (client: ReplicaClient) => Promise<LayerReader>,
): Promise<void> {
  const { status } = job;
  const signal = job.abort.signal;
  const chunk = args.chunkSize ?? COPY_CHUNK;
  let staged = false;
  try {
    const client = await ReplicaClient.connect(parseReplicaAddress(args.source), args.sourceReplicaId, {
      connections: 2,
    });
    job.client = client;
    if (signal.aborted) await client.close();
    checkAborted(signal);
    enterPhase(job, 'plan');

    const info = store.info();
    if (client.helloInfo.size !== info.size) {
      throw new BlockError('EINVAL', `source size ${client.helloInfo.size} differs from ours ${info.size}`);
    }
    const reader = await sourceReader(client);
    const own = new Map<string, LayerInfo>();
    for (const l of store.chain()) if (l.name !== info.headName) own.set(l.name, l);
    const wanted = new Set(args.layers.map((l) => l.name));
    if (wanted.has(info.headName)) throw new BlockError('EINVAL', `${info.headName} is our head`);

    const sourceRanges = await Promise.all(args.layers.map((l) => client.allocatedRanges(l.name)));
    for (const r of sourceRanges) status.bytesTotal += rangeBytes(r);

    const plans: LayerPlan[] = [];
    for (let i = 0; i < args.layers.length; i++) {
      checkAborted(signal);
      plans.push(
        await planLayer(
          job,
          store,
          client,
          args.layers[i]!,
          sourceRanges[i]!,
          own.get(args.layers[i]!.name),
          chunk,
        ),
      );
    }
    const drop = [...own.keys()].filter((n) => !wanted.has(n));
    status.layersDropped = drop;

    enterPhase(job, 'copy');
    for (const p of plans) {
      if (!p.stage) continue;
      checkAborted(signal);
      staged = true;
      await store.importLayer(p.meta);
    }
    const bucket = new TokenBucket(args.bandwidthLimit ?? 0);
    const fetch = plans.flatMap((p) => p.fetch);
    const reuse = plans.flatMap((p) => p.reuse);
    const halt = new AbortController();
    const stop = AbortSignal.any([signal, halt.signal]);
    await settleAll(halt, [
      pool(fetch, args.workers ?? 4, chunk, stop, async (piece, buf) => {
        const pulled = await pullPiece(reader, store, bucket, piece, buf, stop);
        status.bytesFetched += pulled;
        status.bytesDone += piece.bytes;
      }),
      pool(reuse, LOCAL_WORKERS, chunk, stop, async (piece, buf) => {
        for (const r of piece.ranges) {
          const data = await store.readLayer(piece.layer, r.offset, r.length, buf);
          checkAborted(stop);
          await store.writeLayer(piece.layer, r.offset, data);
        }
        status.bytesReused += piece.bytes;
        status.bytesDone += piece.bytes;
      }),
    ]);
    checkAborted(signal);

    enterPhase(job, 'commit');
    if (staged || drop.length > 0) await store.finishImport({ drop });
    staged = false;
    status.state = 'done';
    enterPhase(job, '');
  } catch (err) {
    const reason = signal.aborted ? (signal.reason as Error) : (err as Error);
    status.state = signal.aborted ? 'cancelled' : 'failed';
    status.error = reason.message;
    status.errorCode = (reason as { code?: string }).code ?? 'EIO';
    if (staged) await store.abortImport().catch(() => {});
  } finally {
    await job.client?.close().catch(() => {});
  }
}

async function planLayer(
  job: Job,
  store: Store,
  client: ReplicaClient,
  meta: LayerImport,
  source: ByteRange[],
  existing: LayerInfo | undefined,
  chunk: number,
): Promise<LayerPlan> {
  const { status } = job;
  const size = meta.size ?? store.info().size;
  const usable = existing !== undefined && existing.size === size;
  const ownRanges = usable ? await store.allocatedRanges(meta.name) : null;
  const diff = planLayerDiff(source, ownRanges, size, chunk);
  const fetch: Piece[] = [];
  const reuse: Piece[] = [];
  const pieces = (w: Window, into: Piece[]) => {
    into.push({ layer: meta.name, ranges: w.ranges, bytes: rangeBytes(w.ranges) });
  };
  for (const w of diff.send) pieces(w, fetch);
  const runs = compareRuns(diff.compare, Math.max(1, Math.floor(MAX_COMPARE_BYTES / chunk)));
  const verdicts: boolean[][] = new Array(runs.length);
  await pool(
    runs.map((run, i) => ({ run, i })),
    COMPARE_IN_FLIGHT,
    0,
    job.abort.signal,
    async ({ run, i }) => {
      const first = run[0]!;
      const last = run[run.length - 1]!;
      const length = last.offset + last.length - first.offset;
      const [theirs, mine] = await Promise.all([
        client.layerChecksums(meta.name, first.offset, length, chunk),
        localChecksums(store, meta.name, first.offset, length, chunk),
      ]);
      status.bytesCompared += length;
      verdicts[i] = run.map((_, j) => theirs[j] === mine[j]);
    },
  );
  for (const [i, run] of runs.entries()) {
    for (const [j, w] of run.entries()) pieces(w, verdicts[i]![j] ? reuse : fetch);
  }

  const sameMeta =
    usable &&
    existing.parent === meta.parent &&
    existing.removed === (meta.removed ?? false) &&
    existing.userCreated === (meta.userCreated ?? false) &&
    (meta.created === undefined || existing.created === meta.created) &&
    JSON.stringify(sortedLabels(existing.labels)) === JSON.stringify(sortedLabels(meta.labels ?? {}));
  const allocationSame = usable && rangeBytes(ownRanges!) === rangeBytes(source) && diff.send.length === 0;
  if (sameMeta && allocationSame && fetch.length === 0) {
    status.layersSkipped.push(meta.name);
    status.bytesDone += rangeBytes(source);
    return { meta, stage: false, fetch: [], reuse: [] };
  }
  return { meta, stage: true, fetch, reuse };
}

function sortedLabels(labels: Record<string, string>): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** SHA-512 per chunk of our own copy, hashed off the event loop (WebCrypto runs in the pool). */
async function localChecksums(
  store: Store,
  name: string,
  offset: number,
  length: number,
  chunk: number,
): Promise<string[]> {
  const out: string[] = [];
  const into = Buffer.allocUnsafe(chunk);
  for (let pos = offset; pos < offset + length; pos += chunk) {
    const n = Math.min(chunk, offset + length - pos);
    // digest() takes a copy of its input when called, so the buffer can be reused at once.
    const buf = await store.readLayer(name, pos, n, into);
    const digest = await webcrypto.subtle.digest('SHA-512', buf);
    out.push(Buffer.from(digest).toString('hex'));
  }
  return out;
}

/**
 * Pulls one window: its data ranges in one read when they fill at least half of their span
 * (holes in between cost little), else one read per range, all at once. Holes are never
 * written, so they stay holes. Returns the bytes read from the source.
 */
async function pullPiece(
  client: LayerReader,
  store: Store,
  bucket: TokenBucket,
  piece: Piece,
  buf: Buffer,
  signal: AbortSignal,
): Promise<number> {
  const first = piece.ranges[0]!;
  const last = piece.ranges[piece.ranges.length - 1]!;
  const span = last.offset + last.length - first.offset;
  if (piece.ranges.length === 1 || span <= 2 * piece.bytes) {
    await take(bucket, span, signal);
    checkAborted(signal);
    const data = await client.readLayer(piece.layer, first.offset, span, buf);
    checkAborted(signal);
    await Promise.all(
      piece.ranges.map((r) =>
        store.writeLayer(
          piece.layer,
          r.offset,
          data.subarray(r.offset - first.offset, r.offset - first.offset + r.length),
        ),
      ),
    );
    recycle(data, buf);
    return span;
  }
  await take(bucket, piece.bytes, signal);
  checkAborted(signal);
  await Promise.all(
    piece.ranges.map(async (r) => {
      const into = buf.subarray(r.offset - first.offset);
      const data = await client.readLayer(piece.layer, r.offset, r.length, into);
      checkAborted(signal);
      await store.writeLayer(piece.layer, r.offset, data);
      recycle(data, buf);
    }),
  );
  return piece.bytes;
}

/**
 * A client's response (it does not read into `buf`) is a buffer of the shared pool: once
 * written, give it back, so a GiB of 2 MiB responses does not become garbage for V8's GC.
 */
function recycle(data: Buffer, buf: Buffer): void {
  if (data.buffer !== buf.buffer) ioBuffers.release(data);
}

/** Waits for the bucket, or rejects at once when the job is stopped meanwhile. */
function take(bucket: TokenBucket, n: number, signal: AbortSignal): Promise<void> {
  checkAborted(signal);
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([bucket.take(n), aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * Waits for every task to settle (so nothing of this job is still in flight afterwards), then
 * throws the first failure. A failure halts the other tasks at their next step.
 */
async function settleAll(halt: AbortController, tasks: Promise<void>[]): Promise<void> {
  let first: unknown = null;
  await Promise.all(
    tasks.map((t) =>
      t.catch((err) => {
        if (first === null) first = err;
        halt.abort(err);
      }),
    ),
  );
  if (first !== null) throw first;
}

/**
 * Runs `fn` over `items` with `workers` at a time, each worker with its own `bufSize` buffer
 * reused for every item (fresh multi-MiB buffers cost a page fault per 4 KiB on every use,
 * which measured 4x slower here); stops at the first failure or abort.
 */
async function pool<T>(
  items: readonly T[],
  workers: number,
  bufSize: number,
  signal: AbortSignal,
  fn: (item: T, buf: Buffer) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    let buf: Buffer | null = null;
    while (next < items.length) {
      checkAborted(signal);
      buf ??= Buffer.allocUnsafe(bufSize);
      await fn(items[next++]!, buf);
    }
  };
  const halt = new AbortController();
  await settleAll(
    halt,
    Array.from({ length: Math.min(workers, Math.max(1, items.length)) }, () =>
      worker().catch((err) => {
        next = items.length;
        throw err;
      }),
    ),
  );
}
