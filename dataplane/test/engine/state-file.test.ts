import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EngineState, EngineStateFile } from '../../src/engine/state-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'engine-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the engine state file', () => {
  it('takes concurrent saves one at a time, and the last state wins', async () => {
    // A membership change and a generation record in the same turn (a rebuild's hand-over)
    // once raced on the shared tmp file: one rename failed, and the generation was not recorded.
    const file = new EngineStateFile(join(dir, 'engine.json'));
    let state: EngineState = { members: [] };
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      state = {
        members: [{ id: `r${i}`, address: `127.0.0.1:${1000 + i}` }],
        generation: { committed: i, issued: i },
      };
      saves.push(file.save(() => state));
    }
    await Promise.all(saves);
    expect(await file.read()).toEqual(state);
  });

  it('reads an older bare list of members, and nothing when missing', async () => {
    const path = join(dir, 'old.json');
    await writeFile(path, JSON.stringify([{ id: 'a', address: 'x:1' }]));
    expect(await new EngineStateFile(path).read()).toEqual({ members: [{ id: 'a', address: 'x:1' }] });
    expect(await new EngineStateFile(join(dir, 'missing.json')).read()).toBeNull();
    await expect(readFile(join(dir, 'missing.json'))).rejects.toThrow();
  });
});
