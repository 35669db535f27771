import { describe, expect, it } from 'vitest';
import {
  formatAge,
  formatBytes,
  parseSize,
  renderNames,
  renderStructured,
  renderTable,
  roundUpSize,
} from '../src/output/format.js';
import { Progress, renderBar } from '../src/output/progress.js';

describe('output formats', () => {
  it('lays out columns as kubectl does: upper-case headers, three spaces, no trailing blanks', () => {
    expect(
      renderTable(
        ['name', 'state'],
        [
          ['vol-1', 'attached'],
          ['v', ''],
        ],
      ),
    ).toBe(['NAME    STATE', 'vol-1   attached', 'v'].join('\n'));
  });

  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [4096, '4 KiB'],
    [1536 * 1024 * 1024, '1.5 GiB'],
    ['67108864', '64 MiB'],
    [undefined, '0 B'],
    [150 * 2 ** 30, '150 GiB'],
  ])('formatBytes(%s) = %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it.each([
    ['2026-01-01T23:59:30Z', '30s'],
    ['2026-01-01T23:50:00Z', '10m'],
    ['2026-01-01T20:00:00Z', '4h'],
    ['2025-12-20T00:00:00Z', '13d'],
    [undefined, '<unknown>'],
    ['garbage', '<unknown>'],
  ])('formatAge(%s) = %s', (t, text) => {
    expect(formatAge(t, Date.parse('2026-01-02T00:00:00Z'))).toBe(text);
  });

  it.each([
    ['10Gi', 10 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['1G', 1e9],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1073741824', 2 ** 30],
    ['2GiB', 2 * 2 ** 30],
    ['ten', undefined],
    ['-1Gi', undefined],
    ['0', undefined],
    ['1Xi', undefined],
  ])('parseSize(%s) = %s', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('rounds sizes up to 2 MiB as Longhorn does', () => {
    expect(roundUpSize(1)).toBe(2 * 2 ** 20);
    expect(roundUpSize(2 ** 30)).toBe(2 ** 30);
    expect(roundUpSize(1e9)).toBe(1000341504);
  });

  it('prints lists as a kubectl List in json and yaml, and kind.longhorn.io/name with -o name', () => {
    expect(JSON.parse(renderStructured('json', [{ a: 1 }]))).toEqual({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ a: 1 }],
    });
    expect(renderStructured('yaml', { a: 1 })).toBe('a: 1');
    expect(renderNames('Volume', ['a', 'b'])).toBe('volume.longhorn.io/a\nvolume.longhorn.io/b');
  });
});

describe('progress', () => {
  it('draws a bar', () => {
    expect(renderBar(0, 10)).toBe('[..........]   0%');
    expect(renderBar(45, 10)).toBe('[#####.....]  45%');
    expect(renderBar(140, 10)).toBe('[##########] 100%');
  });

  it('writes plain lines without a terminal: one per step or per 10 %', () => {
    const out: string[] = [];
    const p = new Progress('expand vol', { write: (t) => out.push(t), isTTY: false });
    p.update('rebuilding', 1);
    p.update('rebuilding', 5);
    p.update('rebuilding', 12);
    p.update('waiting');
    p.update('waiting');
    p.done('done');
    expect(out.join('')).toBe(
      'expand vol: rebuilding 1%\nexpand vol: rebuilding 12%\nexpand vol: waiting\ndone\n',
    );
  });

  it('redraws one line on a terminal', () => {
    const out: string[] = [];
    const p = new Progress('x', { write: (t) => out.push(t), isTTY: true });
    p.update('step', 50);
    p.update('step', 50);
    p.done('ok');
    expect(out).toHaveLength(3);
    expect(out[0]).toContain('\r\x1b[2K');
    expect(out[0]).toContain(' 50%');
  });
});
