import { describe, expect, it } from 'vitest';
import { CRD_CATEGORY, crdName, longhornCrds, RESOURCE_DEFINITIONS } from '../src/crds.js';
import { API_GROUP, API_VERSION } from '../src/group.js';
import { arr, enumOf, int, map, obj, str } from '../src/schema/builders.js';
import { structuralProblems } from '../src/schema/structural.js';
import { crdOf, rootSchema, schemaAt, walk } from './schema-at.js';

/** Longhorn's short names (k8s/crds.yaml); every kind of ours has exactly these. */
const SHORT_NAMES: Record<string, string> = {
  Volume: 'lhv',
  Engine: 'lhe',
  Replica: 'lhr',
  Node: 'lhn',
  Snapshot: 'lhsnap',
  Setting: 'lhs',
  VolumeAttachment: 'lhva',
  InstanceManager: 'lhim',
  Backup: 'lhb',
  BackupTarget: 'lhbt',
  BackupVolume: 'lhbv',
  RecurringJob: 'lhrj',
  ShareManager: 'lhsm',
};

describe('the CRDs', () => {
  const crds = longhornCrds();

  it('are the 13 kinds, each with its Longhorn short name, plural and category', () => {
    expect(Object.fromEntries(crds.map((c) => [c.spec.names.kind, c.spec.names.shortNames]))).toEqual(
      Object.fromEntries(Object.entries(SHORT_NAMES).map(([kind, short]) => [kind, [short]])),
    );
    for (const crd of crds) {
      expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.${API_GROUP}`);
      expect(crd.spec.names.plural).toBe(`${crd.spec.names.kind.toLowerCase()}s`);
      expect(crd.spec.names.listKind).toBe(`${crd.spec.names.kind}List`);
      expect(crd.spec.names.categories).toEqual([CRD_CATEGORY]);
      expect(crd.spec.scope).toBe('Namespaced');
    }
  });

  it('serve and store v1beta2 only, with a status subresource and an Age column as Longhorn', () => {
    for (const crd of crds) {
      expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([
        [API_VERSION, true, true],
      ]);
      const version = crd.spec.versions[0]!;
      expect(version.subresources).toEqual({ status: {} });
      const withoutAge = ['BackupTarget', 'BackupVolume'].includes(crd.spec.names.kind);
      expect(
        version.additionalPrinterColumns.some((c) => c.name === 'Age'),
        crd.metadata.name,
      ).toBe(!withoutAge);
    }
  });

  it('have structural schemas: every node typed, every object with properties or map values', () => {
    for (const crd of crds) {
      expect(structuralProblems(rootSchema(crd)), crd.metadata.name).toEqual([]);
    }
  });

  it('keep no unknown fields anywhere (Longhorn has no free-form object)', () => {
    for (const crd of crds) {
      const free = [...walk(rootSchema(crd))].filter(([, s]) => s['x-kubernetes-preserve-unknown-fields']);
      expect(
        free.map(([path]) => path),
        crd.metadata.name,
      ).toEqual([]);
    }
  });

  it('have printer columns that point at fields of the schema', () => {
    for (const crd of crds) {
      for (const column of crd.spec.versions[0]!.additionalPrinterColumns) {
        if (column.jsonPath.startsWith('.metadata.')) continue;
        const field = column.jsonPath.slice(1).replace(/\[\?\(.*\)\]/, '[]');
        expect(
          () => schemaAt(crd.spec.names.kind, field),
          `${crd.metadata.name} ${column.name}`,
        ).not.toThrow();
      }
    }
  });

  it('show Longhorn volume columns, with Scheduled read from the Scheduled condition', () => {
    const columns = crdOf('Volume').spec.versions[0]!.additionalPrinterColumns;
    expect(columns.map((c) => c.name)).toEqual([
      'Data Engine',
      'State',
      'Robustness',
      'Scheduled',
      'Size',
      'Node',
      'Age',
    ]);
    expect(columns.find((c) => c.name === 'Scheduled')?.jsonPath).toBe(
      ".status.conditions[?(@.type=='Scheduled')].status",
    );
  });

  it('require what Longhorn requires: Setting value, Snapshot and VolumeAttachment volume', () => {
    expect(rootSchema(crdOf('Setting')).required).toEqual(['value']);
    expect(schemaAt('Snapshot', 'spec').required).toEqual(['volume']);
    expect(schemaAt('VolumeAttachment', 'spec').required).toEqual(['volume']);
  });

  it('carry sizes as strings of digits, and bound the replica count by 1..20', () => {
    expect(schemaAt('Volume', 'spec.size')).toMatchObject({ type: 'string', pattern: '^[0-9]+$' });
    expect(schemaAt('Engine', 'spec.volumeSize')).toMatchObject({ type: 'string', pattern: '^[0-9]+$' });
    expect(schemaAt('Volume', 'spec.numberOfReplicas')).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 20,
    });
  });

  it('keep Longhorn immutability rules as CEL', () => {
    for (const path of ['spec.encrypted', 'spec.backingImage']) {
      expect(schemaAt('Volume', path)['x-kubernetes-validations']?.[0]?.rule).toBe('self == oldSelf');
    }
    expect(schemaAt('Snapshot', 'spec.volume')['x-kubernetes-validations']?.[0]?.rule).toBe(
      'self == oldSelf',
    );
  });

  it('name each CRD <plural>.longhorn.io', () => {
    expect(RESOURCE_DEFINITIONS.map(crdName)).toContain('volumeattachments.longhorn.io');
  });
});

describe('structuralProblems', () => {
  it('accepts what the builders make', () => {
    expect(structuralProblems(obj({ a: str(), b: arr(int({ min: 1 })), c: map(enumOf(['x'])) }))).toEqual([]);
  });

  it.each([
    [
      { type: 'object' } as const,
      '$: object without properties, additionalProperties or preserve-unknown-fields',
    ],
    [{ properties: { a: { type: 'string' } } } as const, '$: no type'],
    [{ type: 'array' } as const, '$: array without items'],
    [{ type: 'string', enum: [1] } as const, '$: enum value 1 is not a string'],
    [{ type: 'string', minimum: 1 } as const, '$: minimum/maximum on a string'],
    [
      { type: 'object', properties: { a: { type: 'object' } } } as const,
      '$.a: object without properties, additionalProperties or preserve-unknown-fields',
    ],
    [{ type: 'object', properties: {}, required: ['x'] } as const, '$: required x is not a property'],
  ])('reports %j', (schema, problem) => {
    expect(structuralProblems(structuredClone(schema) as never)).toContain(problem);
  });
});
