import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { Replica } from '../../src/replica/index.js';
import { tempDir } from './helpers.js';
import { BS, Model, type ModelSnap, modelToState } from './model.js';
import { applyToModel, CRASH_PROFILE, nextOp, type Op, rng } from './random-ops.js';

const CHILD = path.join(import.meta.dirname, 'crash-child.ts');
const ITERATIONS = Number(process.env.REPLICA_CRASH_ITERATIONS ?? 12);

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

interface ChildRun {
  acked: number;
  begun: number;
}

/**
 * Runs the child until it has acknowledged `killAfter` ops, then SIGKILLs it; with killAfter
 * 0 it is killed `delayMs` after spawning instead, wherever it is (start-up, create, open).
 */
function runChild(args: string[], killAfter: number, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let acked = 0;
    let begun = 0;
    let ready = false;
    let killing = false;
    let tail = '';
    const kill = (): void => {
      if (killing) return;
      killing = true;
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (tail + chunk.toString()).split('\n');
      tail = lines.pop()!;
      for (const line of lines) {
        if (line === 'R') ready = true;
        else if (line.startsWith('B ')) begun = Number(line.slice(2)) + 1;
        else if (line.startsWith('A ')) acked = Number(line.slice(2)) + 1;
      }
      if (killAfter > 0 && ready && acked >= killAfter) kill();
    });
    if (killAfter === 0) kill();
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited early: code ${code} signal ${signal}`));
      else resolve({ acked, begun });
    });
    child.on('error', reject);
  });
}

function padded(b: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size);
  b.copy(out, 0, 0, Math.min(b.length, size));
  return out;
}

describe('crash safety (SIGKILL at random points)', () => {
  it(`reopens consistently after ${ITERATIONS} kills`, async () => {
    const baseSeed = Number(process.env.REPLICA_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const { dir: root, cleanup } = await tempDir('replica-crash');
    const dir = path.join(root, 'replica');
    const modelFile = path.join(root, 'model.bin');
    const pick = rng(baseSeed);
    let model = new Model(1 << 20);
    let iter = 0;
    try {
      for (iter = 0; iter < ITERATIONS; iter++) {
        fs.writeFileSync(modelFile, v8.serialize(modelToState(model)));
        const seed = (baseSeed + iter * 7919) >>> 0;
        const counterStart = iter * 10_000;
        // Mostly kill mid-stream after some acknowledged ops; sometimes at a random time
        // after spawning, which can land in create or open (orphan sweep, roll-forward).
        const early = pick() < 0.2;
        const killAfter = early ? 0 : 1 + Math.floor(pick() * 120);
        const exists = fs.existsSync(path.join(dir, 'volume.meta'));
        const run = await runChild(
          [dir, modelFile, String(seed), exists ? '0' : '1', String(counterStart)],
          killAfter,
          early ? 300 + Math.floor(pick() * 900) : Math.floor(pick() * 3),
        );
        if (!fs.existsSync(path.join(dir, 'volume.meta'))) {
          continue; // killed before create committed: nothing to check yet
        }
        // Replay the child's ops on the model: `pre` has every acknowledged op, `post` also the
        // one in flight (if it began).
        const r = rng(seed);
        const counter = { n: counterStart };
        const pre = model.clone();
        const ops: Op[] = [];
        for (let i = 0; i < run.acked; i++) {
          const op = nextOp(pre, r, counter, CRASH_PROFILE);
          ops.push(op);
          applyToModel(pre, op);
        }
        const post = pre.clone();
        let inflight: Op | undefined;
        if (run.begun > run.acked) {
          inflight = nextOp(post, r, counter, CRASH_PROFILE);
          applyToModel(post, inflight);
        }
        if (process.env.REPLICA_CRASH_DEBUG) console.warn(iter, run, inflight?.kind);
        const replica = await Replica.open(dir);
        try {
          model = await reconcile(replica, model, pre, post, ops, inflight, `iteration ${iter}`);
        } finally {
          await replica.close();
        }
      }
    } catch (err) {
      throw new Error(
        `crash test failed: REPLICA_SEED=${baseSeed} iteration=${iter}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    } finally {
      await cleanup();
    }
    expect(iter).toBe(ITERATIONS);
  });
});

/**
 * Checks the reopened replica against the model before (`pre`) and after (`post`) the op in
 * flight, and returns the model adopted to what survived. Every acknowledged op must be there;
 * the op in flight may be absent, complete or, per 4 KiB block, partial.
 */
async function reconcile(
  replica: Replica,
  start: Model,
  pre: Model,
  post: Model,
  ops: Op[],
  inflight: Op | undefined,
  what: string,
): Promise<Model> {
  const info = replica.info();
  if (info.size !== pre.size && info.size !== post.size) throw new Error(`${what}: size ${info.size}`);
  const size = info.size;
  const view = await replica.read(0, size);
  const a = padded(pre.head, size);
  const b = padded(post.head, size);
  for (let off = 0; off < size; off += BS) {
    const blk = view.subarray(off, off + BS);
    if (!blk.equals(a.subarray(off, off + BS)) && !blk.equals(b.subarray(off, off + BS))) {
      throw new Error(`${what}: block at ${off} matches neither the acknowledged nor the in-flight state`);
    }
  }
  const chain = replica.chain();
  const snaps = chain.slice(0, -1);
  const names = new Set(snaps.map((s) => s.name));
  for (const n of names) {
    if (!pre.snaps.has(n) && !post.snaps.has(n)) throw new Error(`${what}: unknown snapshot ${n}`);
  }
  for (const n of pre.snaps.keys()) {
    if (post.snaps.has(n) && !names.has(n)) throw new Error(`${what}: snapshot ${n} lost`);
  }
  const headParent = chain[chain.length - 1]!.parent;
  if (headParent !== pre.headParent && headParent !== post.headParent) {
    throw new Error(`${what}: head parent ${headParent}`);
  }
  for (const s of snaps) {
    const m = post.snaps.get(s.name) ?? pre.snaps.get(s.name)!;
    if (s.removed || !m.view) continue;
    const got = await replica.readSnapshot(s.name, 0, size);
    if (!got.equals(padded(m.view, size))) throw new Error(`${what}: snapshot ${s.name} content differs`);
  }
  // Write-intent guarantee: every block changed in this session lies in a dirty range, and a
  // session that changed data reopens as dirty. (Revert changes the view structurally; the
  // engine compares chains for that, so such sessions skip this check.)
  const all = inflight ? [...ops, inflight] : ops;
  if (!all.some((o) => o.kind === 'revert')) {
    const ranges = replica.dirtyRanges();
    const before = padded(start.head, size);
    for (let off = 0; off < size; off += BS) {
      if (view.subarray(off, off + BS).equals(before.subarray(off, off + BS))) continue;
      if (!info.dirty) throw new Error(`${what}: data changed but the replica is not marked dirty`);
      if (!ranges.some((rg) => rg.offset <= off && off + BS <= rg.offset + rg.length)) {
        throw new Error(`${what}: block ${off} changed but is outside every dirty range`);
      }
    }
  }
  // Adopt what survived as the model for the next round.
  const base = headParent === post.headParent && size === post.size ? post.clone() : pre.clone();
  base.size = size;
  base.head = Buffer.from(view);
  base.headParent = headParent;
  const adopted = new Map<string, ModelSnap>();
  for (const s of snaps) {
    const m =
      inflight?.kind === 'purge'
        ? (post.snaps.get(s.name) ?? pre.snaps.get(s.name)!)
        : base.snaps.get(s.name);
    const from = m ?? pre.snaps.get(s.name) ?? post.snaps.get(s.name)!;
    adopted.set(s.name, { ...from, parent: s.parent, removed: s.removed });
  }
  base.snaps = adopted;
  return base;
}
