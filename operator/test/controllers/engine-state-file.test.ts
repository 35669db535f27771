import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refreshMemberAddresses } from '../../src/controllers/engine-controller.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'engine-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('refreshMemberAddresses', () => {
  it('moves a remembered replica to its current address and keeps the generation record', async () => {
    const file = join(dir, 'v-e-0.json');
    const generation = { generation: 7, current: ['a', 'b'] };
    await writeFile(
      file,
      JSON.stringify({
        members: [
          { id: 'a', address: 'h1:1' },
          { id: 'b', address: 'h2:1' },
          { id: 'gone', address: 'h3:1' },
        ],
        generation,
      }),
    );
    await refreshMemberAddresses(file, { a: 'h1:1', b: 'h2:2' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      members: [
        { id: 'a', address: 'h1:1' },
        { id: 'b', address: 'h2:2' },
        { id: 'gone', address: 'h3:1' },
      ],
      generation,
    });
  });
  it('no state file (a first start) is fine', async () => {
    await expect(refreshMemberAddresses(join(dir, 'none.json'), { a: 'x:1' })).resolves.toBeUndefined();
  });
});
