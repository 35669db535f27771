import { describe, expect, it } from 'vitest';
import { formatSize, parseSize, parseVolumeSize } from '../../src/cli/size.js';

describe('sizes', () => {
  it.each([
    ['4096', 4096],
    ['1GiB', 2 ** 30],
    ['1Gi', 2 ** 30],
    ['512MiB', 512 * 2 ** 20],
    ['10G', 10e9],
    ['1.5KiB', 1536],
    [' 2 TiB ', 2 * 2 ** 40],
  ])('parses %s', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'abc', '1XB', '-1GiB', '1.3B'])('refuses %j with a message naming it', (text) => {
    expect(() => parseSize(text)).toThrow(/size/);
  });

  it('wants volume sizes in whole 4 KiB blocks', () => {
    expect(parseVolumeSize('1GiB')).toBe(2 ** 30);
    expect(() => parseVolumeSize('1000')).toThrow(/multiple of 4096/);
    expect(() => parseVolumeSize('0')).toThrow(/positive/);
  });

  it('formats sizes in the largest whole unit', () => {
    expect(formatSize(2 ** 30)).toBe('1GiB');
    expect(formatSize(1536)).toBe('1536B');
    expect(formatSize(3 * 2 ** 20)).toBe('3MiB');
  });
});
