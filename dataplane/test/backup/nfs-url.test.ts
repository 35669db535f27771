import { describe, expect, it } from 'vitest';
import { decodeNfsNames, encodeNfsRequest, NfsResponseParser } from '../../src/backup/nfs-frames.js';
import { parseNfsUrl } from '../../src/backup/nfs-url.js';

describe("Longhorn's NFS target URL as libnfs's", () => {
  it.each([
    [
      'nfs://nfs.example.com:/exports/backups',
      'nfs.example.com',
      '/exports/backups',
      'nfs://nfs.example.com/exports/backups',
    ],
    // Longhorn's mount options mean nothing to a user-space client: dropped.
    [
      'nfs://10.0.0.5:/opt/backupstore/?nfsOptions=soft,timeo=330,retrans=3',
      '10.0.0.5',
      '/opt/backupstore',
      'nfs://10.0.0.5/opt/backupstore',
    ],
    [
      'nfs://127.0.0.1:/srv/bk?nfsport=2049&mountport=20048',
      '127.0.0.1',
      '/srv/bk',
      'nfs://127.0.0.1/srv/bk?nfsport=2049&mountport=20048',
    ],
    ['nfs://[fd00::1]:/srv', '[fd00::1]', '/srv', 'nfs://[fd00::1]/srv'],
    ['nfs://host:/a dir/b', 'host', '/a dir/b', 'nfs://host/a%20dir/b'],
  ])('%s', (url, server, path, libnfsUrl) => {
    expect(parseNfsUrl(url)).toEqual({ server, path, libnfsUrl });
  });

  it.each([
    ['nfs://host/export', /expected nfs:\/\/SERVER:\/EXPORT\/PATH/],
    ['nfs://:/export', /expected nfs:\/\/SERVER:\/EXPORT\/PATH/],
    ['nfs://host:/a/../b', /may not contain "\.\."/],
    ['nfs://host:/a?mountport=0', /mountport must be a port, got "0"/],
  ])('refuses %s', (url, message) => {
    expect(() => parseNfsUrl(url)).toThrow(message);
  });
});

describe("lh-nfs's frames", () => {
  it('encodes a request: op, two length-prefixed strings, the data', () => {
    const f = encodeNfsRequest('p', 'a/b', '', Buffer.from('xyz'));
    expect([...f]).toEqual([0x70, 3, 0, 0, 0, 0x61, 0x2f, 0x62, 0, 0, 0, 0, 3, 0, 0, 0, 0x78, 0x79, 0x7a]);
  });

  it('parses responses split anywhere across chunks', () => {
    const one = Buffer.from([0, 0, 0, 0, 2, 0, 0, 0, 0x61, 0x0a]);
    const two = Buffer.from([0xfe, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0x21]);
    const all = Buffer.concat([one, two]);
    for (let cut = 0; cut <= all.length; cut++) {
      const p = new NfsResponseParser();
      const got = [...p.push(all.subarray(0, cut)), ...p.push(all.subarray(cut))];
      expect(got.map((r) => [r.status, r.payload.toString()])).toEqual([
        [0, 'a\n'],
        [-2, '!'],
      ]);
    }
    expect(decodeNfsNames(Buffer.from('a\nb/c\n'))).toEqual(['a', 'b/c']);
    expect(decodeNfsNames(Buffer.alloc(0))).toEqual([]);
  });
});
