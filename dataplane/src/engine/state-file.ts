import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RotationRecord } from '../crypt/data-key-rotation.js';
import type { GenerationRecord } from './generation-choice.js';

/**
 * What an engine process keeps across restarts: its members, its generation record and, for an
 * encrypted volume, the progress of its last data-key rotation (key ids only, never a key).
 */
export interface EngineState {
  members: { id: string; address: string }[];
  generation?: GenerationRecord;
  dataKeyRotation?: RotationRecord;
}

/**
 * The engine's state file. Writes are atomic and durable (tmp file, fsync, rename, fsync of the
 * directory) and run one at a time: they share the tmp file, and acknowledged writes wait for the
 * generation record in it. Each write takes the state as it is when its turn comes.
 */
export class EngineStateFile {
  private writes: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** The saved state; an older file is a bare list of members. Missing: null. */
  async read(): Promise<EngineState | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return null;
    }
    const parsed = JSON.parse(text) as EngineState | EngineState['members'];
    return Array.isArray(parsed) ? { members: parsed } : parsed;
  }

  save(current: () => EngineState): Promise<void> {
    const write = () => this.write(current());
    const next = this.writes.then(write, write);
    this.writes = next.catch(() => {});
    return next;
  }

  private async write(state: EngineState): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(state));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
