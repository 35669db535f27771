/** Settings as `setting list` prints them (pure): value, the registry's default, applied. */
import { isSettingName, type Setting, settingDefinition } from '@longhorn-ts/api';
import { orDash, renderTable } from '../output/format.js';

export function renderSettingList(settings: readonly Setting[], wide: boolean): string {
  const headers = ['name', 'value', 'default', 'applied'];
  if (wide) headers.push('category', 'description');
  const rows = [...settings]
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((s) => {
      const name = s.metadata.name;
      const def = isSettingName(name) ? settingDefinition(name) : undefined;
      const row = [
        name,
        orDash(s.value),
        def ? orDash(String(def.default)) : '-',
        String(s.status?.applied ?? '-'),
      ];
      if (wide) row.push(def?.category ?? '-', def?.description ?? '-');
      return row;
    });
  return renderTable(headers, rows);
}
