import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CRDS_YAML_PATH, longhornCrds, renderCrdsYaml } from '../src/crds.js';
import { generateCrds } from '../src/generate-crds.js';

describe('api/crds/longhorn-ts-crds.yaml', () => {
  it('is what the code generates (regenerate: npx tsc -b api && node api/dist/generate-crds.js)', () => {
    expect(readFileSync(CRDS_YAML_PATH, 'utf8')).toBe(renderCrdsYaml());
  });

  it('parses back into the CRD objects, one document each', () => {
    const docs = parseAllDocuments(readFileSync(CRDS_YAML_PATH, 'utf8'));
    expect(Array.isArray(docs)).toBe(true);
    const objects = (docs as { toJS(): unknown; errors: unknown[] }[]).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS();
    });
    expect(objects).toEqual(longhornCrds());
  });

  it('is written where asked by generateCrds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lh-api-crds-'));
    try {
      const path = await generateCrds(join(dir, 'out', 'crds.yaml'));
      expect(await readFile(path, 'utf8')).toBe(renderCrdsYaml());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
