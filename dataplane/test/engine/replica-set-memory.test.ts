import v8 from 'node:v8';
import vm from 'node:vm';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockError } from '../../src/block/block-error.js';
import { ReplicaSet } from '../../src/engine/replica-set.js';
import type { ReplicaBackend } from '../../src/replica/replica-backend.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A replica that answers every write at once and keeps nothing. */
function instantBackend(): ReplicaBackend {
  return { write: () => Promise.resolve(), close: () => Promise.resolve() } as unknown as ReplicaBackend;
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('ReplicaSet: what a request leaves behind', () => {
  let set: ReplicaSet | null = null;
  afterEach(() => {
    set?.stopTimers();
    set = null;
  });

  it('keeps nothing per answered request (100,000 fanned-out writes to 3 replicas)', async () => {
    set = new ReplicaSet({ volume: 'v', timeoutMs: 60_000, log: pino({ level: 'silent' }) });
    for (const id of ['a', 'b', 'c']) set.add({ id, address: id, backend: instantBackend() }, 'RW');
    const data = Buffer.alloc(4096);
    const writeAll = async (n: number) => {
      for (let i = 0; i < n; i++) await set!.fanOut((m) => m.backend.write(0, data));
    };
    await writeAll(2000);
    const before = heapAfterGc();
    await writeAll(100_000);
    const grown = heapAfterGc() - before;
    // Racing each call against a never-settling "ejected" promise left a reaction on it per call
    // per replica: 300,000 of them, tens of MB. Nothing may stay behind.
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });

  it('still settles a call stuck on a replica as soon as that replica is ejected', async () => {
    set = new ReplicaSet({ volume: 'v', timeoutMs: 60_000, log: pino({ level: 'silent' }) });
    const stuck = { write: () => new Promise(() => {}), close: () => Promise.resolve() };
    const a = set.add({ id: 'a', address: 'a', backend: instantBackend() }, 'RW');
    const b = set.add({ id: 'b', address: 'b', backend: stuck as unknown as ReplicaBackend }, 'RW');
    const call = set.call(b, b.backend.write(0, Buffer.alloc(1)));
    set.eject(b, new BlockError('EIO', 'gone'));
    await expect(call).rejects.toThrow(/replica b \(b\) ejected: .*gone/);
    // A call on an ejected member fails at once; the healthy one is untouched.
    await expect(set.call(b, Promise.resolve(1))).rejects.toThrow(/ejected/);
    await expect(set.call(a, Promise.resolve(2))).resolves.toBe(2);
  });
});
