import { crdName, longhornCrds } from '../src/crds.js';
import type { CustomResourceDefinition } from '../src/schema/crd.js';
import type { JSONSchemaProps } from '../src/schema/json-schema.js';

export function crdOf(kind: string): CustomResourceDefinition {
  const crd = longhornCrds().find((c) => c.spec.names.kind === kind);
  if (!crd) throw new Error(`no CRD of kind ${kind}`);
  return crd;
}

export function rootSchema(crd: CustomResourceDefinition): JSONSchemaProps {
  const version = crd.spec.versions[0];
  if (!version) throw new Error(`${crd.metadata.name} has no version`);
  return version.schema.openAPIV3Schema;
}

/**
 * The schema at a dotted path of a kind's objects: `spec.dataLocality`; `*` steps into map
 * values, `[]` into array items (`status.conditions[].status`).
 */
export function schemaAt(kind: string, path: string): JSONSchemaProps {
  let schema = rootSchema(crdOf(kind));
  for (const step of path.split('.')) {
    const [name = '', ...brackets] = step.split('[]');
    const next = name === '*' ? schema.additionalProperties : schema.properties?.[name];
    if (!next) throw new Error(`${crdName({ plural: kind })}: no ${path} (stopped at ${step})`);
    schema = next;
    for (const _ of brackets) {
      if (!schema.items) throw new Error(`${kind}: ${path} is not an array at ${step}`);
      schema = schema.items;
    }
  }
  return schema;
}

/** Every schema node of a tree with its JSON path. */
export function* walk(schema: JSONSchemaProps, path = '$'): Generator<[string, JSONSchemaProps]> {
  yield [path, schema];
  for (const [name, child] of Object.entries(schema.properties ?? {})) yield* walk(child, `${path}.${name}`);
  if (schema.additionalProperties) yield* walk(schema.additionalProperties, `${path}.*`);
  if (schema.items) yield* walk(schema.items, `${path}[]`);
}
