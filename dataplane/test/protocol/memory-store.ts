import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlockError } from '../../src/block/block-error.js';
import type { ReplicaStoreFactory } from '../../src/protocol/store-factory.js';
import type {
  ByteRange,
  LayerInfo,
  ReplicaInfo,
  ReplicaStore,
  SnapshotOptions,
} from '../../src/replica/types.js';

const BLOCK = 4096;

interface Layer {
  info: LayerInfo;
  blocks: Map<number, Buffer>;
}

/**
 * A minimal in-memory ReplicaStore for protocol tests: byte-exact reads and writes over a chain
 * of layers of 4 KiB blocks. Optional artificial latency makes replies come back out of order.
 */
export class MemoryStore implements ReplicaStore {
  private layers: Layer[] = [];
  private generation = 0;
  private keyRotation: string | undefined;
  private size: number;
  closed = false;
  /** Per-call delay in ms for reads/writes (function of offset) to force reordering. */
  delay: ((offset: number) => number) | null = null;

  constructor(size: number) {
    this.size = size;
    this.layers.push(this.newLayer('head-0', null));
  }

  info(): ReplicaInfo {
    this.check();
    return {
      size: this.size,
      sectorSize: 512,
      headName: this.head.info.name,
      generation: this.generation,
      dirty: false,
      ...(this.keyRotation !== undefined ? { keyRotation: this.keyRotation } : {}),
    };
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.range(offset, length);
    await this.wait(offset);
    const out = Buffer.alloc(length);
    for (let pos = offset; pos < offset + length; ) {
      const b = Math.floor(pos / BLOCK);
      const inBlock = pos - b * BLOCK;
      const n = Math.min(BLOCK - inBlock, offset + length - pos);
      for (let i = this.layers.length - 1; i >= 0; i--) {
        const blk = this.layers[i]!.blocks.get(b);
        if (blk) {
          blk.copy(out, pos - offset, inBlock, inBlock + n);
          break;
        }
      }
      pos += n;
    }
    return out;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.range(offset, data.length);
    const copy = Buffer.from(data);
    await this.wait(offset);
    this.put(offset, copy.length, (blk, inBlock, src) =>
      copy.copy(blk, inBlock, src, src + Math.min(BLOCK - inBlock, copy.length - src)),
    );
  }

  async flush(): Promise<void> {
    this.check();
  }

  async unmap(offset: number, length: number): Promise<void> {
    await this.writeZeroes(offset, length);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.range(offset, length);
    this.put(offset, length, (blk, inBlock, src) =>
      blk.fill(0, inBlock, inBlock + Math.min(BLOCK - inBlock, length - src)),
    );
  }

  async snapshot(name: string, opts: SnapshotOptions = {}): Promise<void> {
    this.check();
    if (this.layers.some((l) => l.info.name === name)) throw codeError('EEXIST', `layer ${name} exists`);
    const head = this.head;
    head.info.name = name;
    head.info.userCreated = opts.userCreated ?? true;
    head.info.labels = opts.labels ?? {};
    head.info.created = opts.created ?? new Date().toISOString();
    const next = this.newLayer(`head-${this.layers.length}`, name);
    head.info.children = [next.info.name];
    this.layers.push(next);
  }

  chain(): LayerInfo[] {
    this.check();
    return this.layers.map((l) => ({ ...l.info, allocatedBytes: l.blocks.size * BLOCK }));
  }

  async markRemoved(name: string): Promise<void> {
    this.find(name).info.removed = true;
  }

  async purge(): Promise<string[]> {
    const purged: string[] = [];
    for (let i = this.layers.length - 2; i >= 0; i--) {
      const l = this.layers[i]!;
      if (!l.info.removed) continue;
      const newer = this.layers[i + 1]!;
      for (const [b, blk] of l.blocks) if (!newer.blocks.has(b)) newer.blocks.set(b, blk);
      newer.info.parent = l.info.parent;
      this.layers.splice(i, 1);
      purged.push(l.info.name);
    }
    return purged;
  }

  async revert(name: string, created?: string): Promise<void> {
    const idx = this.layers.findIndex((l) => l.info.name === name);
    if (idx < 0 || idx === this.layers.length - 1)
      throw codeError('SNAPSHOT_NOT_FOUND', `no snapshot ${name}`);
    this.layers = this.layers.slice(0, idx + 1);
    const head = this.newLayer(`head-r${Date.now()}`, name);
    if (created) head.info.created = created;
    this.layers.push(head);
  }

  async expand(size: number): Promise<void> {
    if (size < this.size) throw new BlockError('EINVAL', 'cannot shrink');
    this.size = size;
    this.head.info.size = size;
  }

  async setGeneration(generation: number): Promise<void> {
    this.generation = generation;
  }

  async setKeyRotation(record: string | null): Promise<void> {
    this.keyRotation = record ?? undefined;
  }

  async allocatedRanges(layer?: string): Promise<ByteRange[]> {
    const blocks = new Set<number>();
    for (const l of layer ? [this.find(layer)] : this.layers) for (const b of l.blocks.keys()) blocks.add(b);
    return [...blocks].sort((a, b) => a - b).map((b) => ({ offset: b * BLOCK, length: BLOCK }));
  }

  async readLayer(name: string, offset: number, length: number): Promise<Buffer> {
    const l = this.find(name);
    const out = Buffer.alloc(length);
    for (let b = Math.floor(offset / BLOCK); b * BLOCK < offset + length; b++) {
      const blk = l.blocks.get(b);
      if (!blk) continue;
      const start = Math.max(offset, b * BLOCK);
      const end = Math.min(offset + length, (b + 1) * BLOCK);
      blk.copy(out, start - offset, start - b * BLOCK, end - b * BLOCK);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private get head(): Layer {
    return this.layers[this.layers.length - 1]!;
  }

  private find(name: string): Layer {
    const l = this.layers.find((x) => x.info.name === name);
    if (!l) throw codeError('SNAPSHOT_NOT_FOUND', `no layer ${name}`);
    return l;
  }

  private newLayer(name: string, parent: string | null): Layer {
    return {
      info: {
        name,
        parent,
        children: [],
        removed: false,
        userCreated: false,
        created: new Date().toISOString(),
        labels: {},
        size: this.size,
        allocatedBytes: 0,
      },
      blocks: new Map(),
    };
  }

  private put(
    offset: number,
    length: number,
    fill: (blk: Buffer, inBlock: number, src: number) => void,
  ): void {
    for (let pos = offset; pos < offset + length; ) {
      const b = Math.floor(pos / BLOCK);
      const inBlock = pos - b * BLOCK;
      let blk = this.head.blocks.get(b);
      if (!blk) {
        blk = Buffer.alloc(BLOCK);
        for (let i = this.layers.length - 2; i >= 0; i--) {
          const old = this.layers[i]!.blocks.get(b);
          if (old) {
            old.copy(blk);
            break;
          }
        }
        this.head.blocks.set(b, blk);
      }
      fill(blk, inBlock, pos - offset);
      pos += Math.min(BLOCK - inBlock, offset + length - pos);
    }
  }

  private range(offset: number, length: number): void {
    this.check();
    if (offset < 0 || length < 0 || offset + length > this.size)
      throw new BlockError('EINVAL', `range ${offset}+${length} past end`);
  }

  private check(): void {
    if (this.closed) throw new BlockError('ESHUTDOWN', 'store closed');
  }

  private async wait(offset: number): Promise<void> {
    const ms = this.delay?.(offset) ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }
}

function codeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Factory persisting only the size (enough to reopen an empty replica). */
export const memoryFactory: ReplicaStoreFactory = {
  async create(dir, { size }) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'memory.json'), JSON.stringify({ size }));
    return new MemoryStore(size);
  },
  async open(dir) {
    const { size } = JSON.parse(await readFile(join(dir, 'memory.json'), 'utf8')) as { size: number };
    return new MemoryStore(size);
  },
};
