import { describe, expect, it } from 'vitest';
import { sourceAddressForTarget } from '../../src/sync/direct-rebuild.js';

describe('sourceAddressForTarget: what the rebuild target is told to dial', () => {
  const tcpSource = { host: '127.0.0.12', port: 41000 };
  const unixSource = { path: '/var/lib/longhorn/replica.sock' };
  it.each([
    [
      'TCP source, TCP target: the source TCP address',
      tcpSource,
      { host: '127.0.0.13', port: 42000 },
      '127.0.0.12:41000',
    ],
    ['TCP source, Unix target: still the TCP address', tcpSource, { path: '/x.sock' }, '127.0.0.12:41000'],
    [
      'Unix source, Unix target (one host): the socket',
      unixSource,
      { path: '/x.sock' },
      'unix:/var/lib/longhorn/replica.sock',
    ],
    [
      'Unix source, TCP target (maybe another host): none',
      unixSource,
      { host: '127.0.0.13', port: 42000 },
      undefined,
    ],
  ])('%s', (_what, source, target, want) => {
    expect(sourceAddressForTarget(source, target)).toBe(want);
  });
});
