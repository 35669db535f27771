/**
 * Writes the CRDs to api/crds/longhorn-ts-crds.yaml, or to the path given:
 * `node api/dist/generate-crds.js [out]`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRDS_YAML_PATH, renderCrdsYaml } from './crds.js';

export async function generateCrds(out: string = CRDS_YAML_PATH): Promise<string> {
  const path = resolve(out);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderCrdsYaml());
  return path;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  generateCrds(process.argv[2]).then(
    (path) => process.stdout.write(`${path}\n`),
    (err: unknown) => {
      process.stderr.write(`generate-crds: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
