/**
 * Writes the chart's generated files (CRDs, the defaultSettings schema, values block, README
 * table and name map) from the workspaces:
 *   npx tsc -b test && node test/dist/chart/sync-chart.js [--check]
 * With --check nothing is written and the exit code is 1 when a file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHART_DIR, expectedChartFiles, staleChartFiles } from './chart-files.js';

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`sync-chart: unknown argument ${unknown[0]} (usage: sync-chart [--check])\n`);
    return 2;
  }
  const stale = staleChartFiles();
  if (check) {
    if (stale.length === 0) return 0;
    process.stderr.write(
      `sync-chart: out of date in ${CHART_DIR}: ${stale.join(', ')} (run without --check)\n`,
    );
    return 1;
  }
  for (const file of expectedChartFiles().filter((f) => stale.includes(f.path))) {
    writeFileSync(join(CHART_DIR, file.path), file.content);
    process.stdout.write(`wrote ${file.path}\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
