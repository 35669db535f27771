import { describe, expect, it } from 'vitest';
import { accessibleTopologyOf, sameTerms, topologyRequirementOf } from '../src/controller/topology.js';
import { CsiError } from '../src/errors.js';

const zone = (z: string, r?: string) => ({
  segments: { 'topology.kubernetes.io/zone': z, ...(r ? { 'topology.kubernetes.io/region': r } : {}) },
});

describe('accessibility requirements', () => {
  it('requisite segments become topology terms (deduplicated); preferred only without requisite', () => {
    expect(
      topologyRequirementOf({ requisite: [zone('a'), zone('b', 'r1'), zone('a')], preferred: [zone('c')] }),
    ).toEqual([{ zone: 'a' }, { zone: 'b', region: 'r1' }]);
    expect(topologyRequirementOf({ preferred: [zone('c')] })).toEqual([{ zone: 'c' }]);
    expect(topologyRequirementOf(undefined)).toBeUndefined();
    expect(topologyRequirementOf({ requisite: [{ segments: {} }] })).toBeUndefined();
  });

  it('a key the nodes do not report is INVALID_ARGUMENT naming it', () => {
    let err: unknown;
    try {
      topologyRequirementOf({ requisite: [{ segments: { 'example.com/rack': 'r7' } }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CsiError);
    expect((err as CsiError).code).toBe('INVALID_ARGUMENT');
    expect((err as CsiError).message).toMatch(
      /topology key example.com\/rack: longhorn-ts nodes report only/,
    );
  });

  it('answers the terms as accessible topology; compares terms regardless of order', () => {
    expect(accessibleTopologyOf([{ zone: 'a' }, { region: 'r1' }])).toEqual([
      { segments: { 'topology.kubernetes.io/zone': 'a' } },
      { segments: { 'topology.kubernetes.io/region': 'r1' } },
    ]);
    expect(accessibleTopologyOf([])).toBeUndefined();
    expect(sameTerms([{ zone: 'a' }, { zone: 'b' }], [{ zone: 'b' }, { zone: 'a' }])).toBe(true);
    expect(sameTerms(undefined, [])).toBe(true);
    expect(sameTerms([{ zone: 'a' }], [{ zone: 'a', region: 'r' }])).toBe(false);
  });
});
