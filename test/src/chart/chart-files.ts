/**
 * The chart files generated from the workspaces (api's CRDs and Settings registry), and the
 * comparison that keeps them from drifting: `expectedChartFiles()` says what each file must hold.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdsYaml } from '@longhorn-ts/api';
import {
  defaultSettingsSchema,
  defaultSettingsValuesBlock,
  settingNamesTemplate,
  settingsTable,
} from './setting-values.js';

/** charts/longhorn-ts, found from test/src/chart and test/dist/chart alike. */
export const CHART_DIR = fileURLToPath(new URL('../../../charts/longhorn-ts/', import.meta.url));

export const CHART_CRDS_PATH = join(CHART_DIR, 'crds', 'longhorn-ts-crds.yaml');

export interface ChartFile {
  /** Relative to the chart's directory. */
  path: string;
  content: string;
}

const VALUES_MARKERS = ['# BEGIN generated defaultSettings', '# END generated defaultSettings'] as const;
const README_MARKERS = [
  '<!-- BEGIN generated settings table -->',
  '<!-- END generated settings table -->',
] as const;

/**
 * `text` with the lines strictly between the line starting with `begin` and the one starting
 * with `end` replaced by `lines`.
 */
export function replaceBetween(
  text: string,
  [begin, end]: readonly [string, string],
  lines: string[],
  file: string,
): string {
  const all = text.split('\n');
  const from = all.findIndex((l) => l.startsWith(begin));
  const to = all.findIndex((l, i) => i > from && l.startsWith(end));
  if (from < 0 || to < 0) throw new Error(`${file}: markers "${begin}" ... "${end}" not found`);
  return [...all.slice(0, from + 1), ...lines, ...all.slice(to)].join('\n');
}

function read(path: string): string {
  return readFileSync(join(CHART_DIR, path), 'utf8');
}

/** Every generated file with the content it must have, given the hand-written parts on disk. */
export function expectedChartFiles(): ChartFile[] {
  const schema = JSON.parse(read('values.schema.json')) as { properties: Record<string, unknown> };
  schema.properties.defaultSettings = defaultSettingsSchema();
  return [
    { path: 'crds/longhorn-ts-crds.yaml', content: renderCrdsYaml() },
    { path: 'templates/_settings.tpl', content: settingNamesTemplate() },
    { path: 'values.schema.json', content: `${JSON.stringify(schema, null, 2)}\n` },
    {
      path: 'values.yaml',
      content: replaceBetween(
        read('values.yaml'),
        VALUES_MARKERS,
        defaultSettingsValuesBlock(),
        'values.yaml',
      ),
    },
    {
      path: 'README.md',
      content: replaceBetween(read('README.md'), README_MARKERS, settingsTable(), 'README.md'),
    },
  ];
}

/** The generated files whose committed content differs from what they must hold. */
export function staleChartFiles(): string[] {
  return expectedChartFiles()
    .filter((f) => {
      try {
        return read(f.path) !== f.content;
      } catch {
        return true;
      }
    })
    .map((f) => f.path);
}
