import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * The data plane's folders from the bottom up: a folder imports only from folders of a lower
 * rank (net, block <- replica <- protocol <- sync, backup <- engine <- cli). Biome's noImportCycles
 * catches cycles between files (qos and crypt, BlockDevice layers, sit beside the frontend); this
 * catches the ones between folders (engine -> protocol ->
 * engine through different files), which is where they crept in before.
 */
const RANK: Record<string, number> = {
  block: 0,
  net: 0,
  logging: 0,
  process: 0,
  rpc: 1,
  replica: 1,
  frontend: 1,
  qos: 1,
  crypt: 1,
  protocol: 2,
  sync: 3,
  backup: 3,
  engine: 4,
  'instance-manager': 4,
  cli: 5,
  'index.ts': 6,
};

function* sources(dir: string): Generator<string> {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, ent.name);
    if (ent.isDirectory()) yield* sources(path);
    else if (ent.name.endsWith('.ts')) yield path;
  }
}

const folderOf = (file: string): string => relative(SRC, file).split('/')[0]!;

/**
 * Process entries (`*-main.ts`, `main.ts`) compose the layers, so they sit on top whatever
 * their folder: the replica server's entry wires the sync agent into the protocol's server.
 */
const isEntry = (file: string): boolean => /(^|[-/])main\.ts$/.test(file);

/** Every relative import and re-export of a file, type-only ones included. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gms)) found.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s+'(\.[^']+)'/gm)) found.push(m[1]!);
  return found.map((spec) => resolve(dirname(file), spec));
}

describe('data plane layering', () => {
  it('imports only from lower folders', () => {
    const wrong: string[] = [];
    for (const file of sources(SRC)) {
      const from = folderOf(file);
      expect(RANK, `folder ${from} needs a rank in layering.test.ts`).toHaveProperty([from]);
      const rank = isEntry(file) ? Number.POSITIVE_INFINITY : RANK[from]!;
      for (const target of imports(file)) {
        const to = folderOf(target);
        if (to === from) continue;
        expect(RANK, `folder ${to} needs a rank in layering.test.ts`).toHaveProperty([to]);
        if (RANK[to]! >= rank) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
