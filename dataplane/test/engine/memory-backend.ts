import { BlockError } from '../../src/block/block-error.js';
import type { ReplicaBackend } from '../../src/replica/replica-backend.js';
import type { ByteRange, LayerInfo, ReplicaInfo, SnapshotOptions } from '../../src/replica/types.js';

/**
 * A replica held in memory for unit tests of the engine's decision logic (fan-out, ejection,
 * timeouts, widening). It records every call and can be told to fail or hang.
 */
export class MemoryBackend implements ReplicaBackend {
  data: Buffer;
  generation: number;
  keyRotation: string | undefined;
  size: number;
  calls: string[] = [];
  writes: { offset: number; length: number }[] = [];
  failWith: Error | null = null;
  hang = false;
  closed = false;
  snapshots: string[] = [];
  /** Write-intent map: ranges written since the last markClean (tests may preset it). */
  dirty: { offset: number; length: number }[] = [];
  /** Per-operation hooks awaited before the operation runs (e.g. to hold one op back). */
  before = new Map<string, () => Promise<void>>();
  private hung: Array<(err: Error) => void> = [];

  constructor(size: number, generation = 0) {
    this.size = size;
    this.data = Buffer.alloc(size);
    this.generation = generation;
  }

  private async gate(op: string): Promise<void> {
    this.calls.push(op);
    if (this.closed) throw new BlockError('EIO', 'closed');
    if (this.failWith) throw this.failWith;
    if (this.hang) await new Promise<void>((_, reject) => this.hung.push(reject));
    const hook = this.before.get(op);
    if (hook) await hook();
  }

  async read(offset: number, length: number): Promise<Buffer> {
    await this.gate('read');
    return Buffer.from(this.data.subarray(offset, offset + length));
  }
  async write(offset: number, data: Buffer): Promise<void> {
    await this.gate('write');
    this.writes.push({ offset, length: data.length });
    this.dirty.push({ offset, length: data.length });
    data.copy(this.data, offset);
  }
  async unmap(offset: number, length: number): Promise<void> {
    await this.gate('unmap');
    this.data.fill(0, offset, offset + length);
  }
  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.gate('writeZeroes');
    this.data.fill(0, offset, offset + length);
  }
  async flush(): Promise<void> {
    await this.gate('flush');
  }
  async info(): Promise<ReplicaInfo> {
    await this.gate('info');
    return {
      size: this.size,
      sectorSize: 512,
      headName: 'head',
      generation: this.generation,
      dirty: false,
      ...(this.keyRotation !== undefined ? { keyRotation: this.keyRotation } : {}),
    };
  }
  async chain(): Promise<LayerInfo[]> {
    await this.gate('chain');
    const layer = (name: string, parent: string | null): LayerInfo => ({
      name,
      parent,
      children: [],
      removed: false,
      userCreated: true,
      created: '',
      labels: {},
      size: this.size,
      allocatedBytes: 0,
    });
    return [
      ...this.snapshots.map((s, i) => layer(s, this.snapshots[i - 1] ?? null)),
      layer('head', this.snapshots.at(-1) ?? null),
    ];
  }
  async snapshot(name: string, _opts?: SnapshotOptions): Promise<void> {
    await this.gate('snapshot');
    this.snapshots.push(name);
  }
  async markRemoved(): Promise<void> {
    await this.gate('markRemoved');
  }
  async purge(): Promise<string[]> {
    await this.gate('purge');
    return [];
  }
  async revert(): Promise<void> {
    await this.gate('revert');
  }
  async expand(size: number): Promise<void> {
    await this.gate('expand');
    const grown = Buffer.alloc(size);
    this.data.copy(grown);
    this.data = grown;
    this.size = size;
  }
  async setGeneration(generation: number): Promise<void> {
    await this.gate('setGeneration');
    this.generation = generation;
  }
  async setKeyRotation(record: string | null): Promise<void> {
    await this.gate('setKeyRotation');
    this.keyRotation = record ?? undefined;
  }
  async allocatedRanges(): Promise<ByteRange[]> {
    await this.gate('allocatedRanges');
    return [{ offset: 0, length: this.size }];
  }
  async readLayer(_name: string, offset: number, length: number): Promise<Buffer> {
    return this.read(offset, length);
  }
  async writeLayer(_name: string, offset: number, data: Buffer): Promise<void> {
    await this.gate('writeLayer');
    data.copy(this.data, offset);
  }
  async dirtyRanges(): Promise<ByteRange[]> {
    await this.gate('dirtyRanges');
    return this.dirty.map((r) => ({ ...r }));
  }
  async markClean(): Promise<void> {
    await this.gate('markClean');
    this.dirty = [];
  }
  async importLayer(): Promise<void> {
    await this.gate('importLayer');
  }
  async finishImport(): Promise<void> {
    await this.gate('finishImport');
  }
  async abortImport(): Promise<void> {
    await this.gate('abortImport');
  }
  async close(): Promise<void> {
    this.closed = true;
    for (const reject of this.hung) reject(new BlockError('EIO', 'closed'));
    this.hung = [];
  }
}
