import { describe, expect, it } from 'vitest';
import { chooseOwner, fnv1a, isResponsible, type OwnedObject, preferredOwner } from '../src/ownership.js';

describe('preferredOwner', () => {
  it.each<[OwnedObject, string]>([
    [{ kind: 'Volume', nodeID: 'n1', ownerID: 'n2' }, 'n1'],
    [{ kind: 'Volume', nodeID: '', ownerID: 'n2' }, 'n2'],
    [{ kind: 'Volume', nodeID: '', ownerID: '' }, ''],
    [{ kind: 'Engine', nodeID: 'n3', ownerID: 'n1' }, 'n3'],
    [{ kind: 'Replica', nodeID: 'n4', ownerID: 'n1' }, 'n4'],
    [{ kind: 'Replica', nodeID: '', ownerID: 'n1' }, ''],
    [{ kind: 'Node', name: 'n5', ownerID: 'n1' }, 'n5'],
  ])('%o -> %s', (obj, owner) => {
    expect(preferredOwner(obj)).toBe(owner);
  });
});

describe('chooseOwner', () => {
  it.each([
    { name: 'preferred up', preferred: 'n1', current: 'n2', live: ['n1', 'n2', 'n3'], owner: 'n1' },
    {
      name: 'preferred down, current up: keep',
      preferred: 'n1',
      current: 'n2',
      live: ['n2', 'n3'],
      owner: 'n2',
    },
    { name: 'no preferred, current up: keep', preferred: '', current: 'n2', live: ['n1', 'n2'], owner: 'n2' },
    {
      name: 'preferred comes back: it takes over',
      preferred: 'n1',
      current: 'n2',
      live: ['n1', 'n2'],
      owner: 'n1',
    },
    { name: 'both down: a live node', preferred: 'n1', current: 'n2', live: ['n3'], owner: 'n3' },
    { name: 'nobody up', preferred: 'n1', current: 'n2', live: [], owner: undefined },
    { name: 'never owned, nothing preferred', preferred: '', current: '', live: ['n7'], owner: 'n7' },
  ])('$name', ({ preferred, current, live, owner }) => {
    expect(chooseOwner({ key: 'longhorn-system/vol', preferred, current, liveNodes: live })).toBe(owner);
  });

  it('picks the same orphan owner whatever the order of live nodes', () => {
    const live = ['n3', 'n4', 'n5', 'n6'];
    const a = chooseOwner({ key: 'ns/x', preferred: 'n1', current: 'n2', liveNodes: live });
    const b = chooseOwner({ key: 'ns/x', preferred: 'n1', current: 'n2', liveNodes: [...live].reverse() });
    const c = chooseOwner({ key: 'ns/x', preferred: 'n1', current: 'n2', liveNodes: new Set(live) });
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(c).toBe(a);
  });

  it('spreads orphans over the survivors and moves only those of a node that goes', () => {
    const keys = Array.from({ length: 300 }, (_, i) => `ns/vol-${i}`);
    const pick = (live: string[]) =>
      new Map(
        keys.map((key) => [key, chooseOwner({ key, preferred: 'dead', current: '', liveNodes: live })!]),
      );
    const before = pick(['n1', 'n2', 'n3']);
    const counts = ['n1', 'n2', 'n3'].map((n) => [...before.values()].filter((o) => o === n).length);
    for (const c of counts) expect(c).toBeGreaterThan(60);
    const after = pick(['n1', 'n2']);
    for (const key of keys) {
      if (before.get(key) !== 'n3') expect(after.get(key)).toBe(before.get(key));
    }
  });

  it('isResponsible agrees with chooseOwner', () => {
    const input = { key: 'ns/v', preferred: 'n1', current: 'n2', liveNodes: ['n2'] };
    expect(isResponsible('n2', input)).toBe(true);
    expect(isResponsible('n1', input)).toBe(false);
  });
});

describe('fnv1a', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('%j', (text, hash) => {
    expect(fnv1a(text)).toBe(hash);
  });
});
