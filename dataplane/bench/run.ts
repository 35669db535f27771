/**
 * `npm run bench` (in dataplane): every data-plane benchmark in one run, same disk.
 * Each prints a table and a JSON document; see the files for their options.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benches = [
  'replica-bench.ts',
  'nbd-bench.ts',
  'protocol-bench.ts',
  'engine-bench.ts',
  'qos-bench.ts',
  'crypt-bench.ts',
  'backup-bench.ts',
];
let failed = 0;
for (const b of benches) {
  const file = fileURLToPath(new URL(b, import.meta.url));
  if (!existsSync(file)) continue;
  console.log(`\n=== ${b} ===`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', file, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (res.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
