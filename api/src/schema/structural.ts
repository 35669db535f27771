/**
 * Checks that a schema is structural in the sense the API server requires of CRDs (and a bit
 * stricter): every node has a type, every object says what it holds, every array has items,
 * and enum values and bounds fit their type.
 */
import type { JSONSchemaProps } from './json-schema.js';

/** What is wrong with `schema`, one line per problem with its JSON path; empty when structural. */
export function structuralProblems(schema: JSONSchemaProps, path = '$'): string[] {
  const problems: string[] = [];
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;

  if (schema.type === undefined) problems.push(`${path}: no type`);

  if (schema.type === 'object') {
    const hasProperties = schema.properties !== undefined;
    const hasValues = schema.additionalProperties !== undefined;
    if (hasProperties && hasValues) problems.push(`${path}: both properties and additionalProperties`);
    if (!hasProperties && !hasValues && !preserve) {
      problems.push(`${path}: object without properties, additionalProperties or preserve-unknown-fields`);
    }
  } else {
    if (schema.properties !== undefined) problems.push(`${path}: properties on a ${schema.type}`);
    if (schema.additionalProperties !== undefined) {
      problems.push(`${path}: additionalProperties on a ${schema.type}`);
    }
  }

  if (schema.type === 'array' && schema.items === undefined) problems.push(`${path}: array without items`);
  if (schema.type !== 'array' && schema.items !== undefined) {
    problems.push(`${path}: items on a ${schema.type}`);
  }

  for (const value of schema.enum ?? []) {
    const fits =
      (schema.type === 'string' && typeof value === 'string') ||
      ((schema.type === 'integer' || schema.type === 'number') && typeof value === 'number');
    if (!fits) problems.push(`${path}: enum value ${JSON.stringify(value)} is not a ${schema.type}`);
  }
  if ((schema.minimum !== undefined || schema.maximum !== undefined) && !isNumeric(schema)) {
    problems.push(`${path}: minimum/maximum on a ${schema.type}`);
  }
  if (schema.pattern !== undefined && schema.type !== 'string') {
    problems.push(`${path}: pattern on a ${schema.type}`);
  }
  if (schema.minimum !== undefined && schema.maximum !== undefined && schema.minimum > schema.maximum) {
    problems.push(`${path}: minimum ${schema.minimum} above maximum ${schema.maximum}`);
  }
  for (const name of schema.required ?? []) {
    if (schema.properties?.[name] === undefined) problems.push(`${path}: required ${name} is not a property`);
  }

  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    // The API server fills in the root metadata schema itself and allows only `type: object`.
    if (path === '$' && name === 'metadata' && isBareObject(child)) continue;
    problems.push(...structuralProblems(child, `${path}.${name}`));
  }
  if (schema.additionalProperties !== undefined) {
    problems.push(...structuralProblems(schema.additionalProperties, `${path}.*`));
  }
  if (schema.items !== undefined) problems.push(...structuralProblems(schema.items, `${path}[]`));
  return problems;
}

function isBareObject(schema: JSONSchemaProps): boolean {
  return schema.type === 'object' && Object.keys(schema).length === 1;
}

function isNumeric(schema: JSONSchemaProps): boolean {
  return schema.type === 'integer' || schema.type === 'number';
}
