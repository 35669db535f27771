/**
 * Small builders for structural OpenAPI v3 schemas. Every builder returns plain JSON typed with
 * the TypeScript type it admits, so `schema-match.ts` can pin a schema to its interface at
 * compile time.
 */
import type { JSONSchemaProps, Schema } from './json-schema.js';

export interface CommonOptions {
  description?: string;
  /** Longhorn's `+nullable`: an explicit null is kept as null instead of being dropped. */
  nullable?: boolean;
  /** Message of a `self == oldSelf` rule: once set, the field cannot change. */
  immutable?: string;
}

/** Decimal digits only: how Longhorn carries int64 byte counts in strings (`json:",string"`). */
export const DECIMAL_PATTERN = '^[0-9]+$';

function common(options: CommonOptions): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  if (options.description !== undefined) out.description = options.description;
  if (options.nullable) out.nullable = true;
  if (options.immutable !== undefined) {
    out['x-kubernetes-validations'] = [{ rule: 'self == oldSelf', message: options.immutable }];
  }
  return out;
}

export interface StringOptions extends CommonOptions {
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
}

export function str(options: StringOptions = {}): Schema<string> {
  const out: JSONSchemaProps = { type: 'string', ...common(options) };
  if (options.format !== undefined) out.format = options.format;
  if (options.pattern !== undefined) out.pattern = options.pattern;
  if (options.minLength !== undefined) out.minLength = options.minLength;
  if (options.maxLength !== undefined) out.maxLength = options.maxLength;
  return out;
}

/**
 * A byte count (or any int64) written as a string of decimal digits, as Longhorn writes
 * Volume `spec.size`: `"2147483648"`, never `"2Gi"`.
 */
export function bytes(options: CommonOptions = {}): Schema<string> {
  return str({ ...options, pattern: DECIMAL_PATTERN });
}

/** An RFC 3339 timestamp (`metav1.Time`). */
export function dateTime(options: CommonOptions = {}): Schema<string> {
  return str({ ...options, format: 'date-time' });
}

export interface IntOptions extends CommonOptions {
  min?: number;
  max?: number;
  format?: 'int32' | 'int64';
}

export function int(options: IntOptions = {}): Schema<number> {
  const out: JSONSchemaProps = { type: 'integer', ...common(options) };
  if (options.format !== undefined) out.format = options.format;
  if (options.min !== undefined) out.minimum = options.min;
  if (options.max !== undefined) out.maximum = options.max;
  return out;
}

export function bool(options: CommonOptions = {}): Schema<boolean> {
  return { type: 'boolean', ...common(options) };
}

export interface EnumOptions<V extends string> extends CommonOptions {
  default?: V;
}

/** A string that must be one of `values`. */
export function enumOf<const L extends readonly string[]>(
  values: L,
  options: EnumOptions<L[number]> = {},
): Schema<L[number]> {
  const out: JSONSchemaProps = { type: 'string', ...common(options), enum: [...values] };
  if (options.default !== undefined) out.default = options.default;
  return out;
}

/**
 * Like `enumOf`, but the empty string is admitted too: Longhorn writes `""` for an unset
 * status enum (its Go fields have no `omitempty`), and a few spec enums list `""` themselves.
 */
export function enumOrEmpty<const L extends readonly string[]>(
  values: L,
  options: EnumOptions<L[number] | ''> = {},
): Schema<L[number] | ''> {
  return enumOf<readonly (L[number] | '')[]>([...values, ''], options);
}

export function arr<T>(items: Schema<T>, options: CommonOptions = {}): Schema<T[]> {
  return { type: 'array', ...common(options), items };
}

/** A map with string keys: `additionalProperties`, as Go's `map[string]T`. */
export function map<T>(values: Schema<T>, options: CommonOptions = {}): Schema<Record<string, T>> {
  return { type: 'object', ...common(options), additionalProperties: values };
}

type Shape = Record<string, Schema<unknown>>;
type ValueOf<S> = S extends Schema<infer T> ? T : never;
type Flatten<T> = { [K in keyof T]: T[K] } & {};

/** The object type of a shape: `required` keys are mandatory, the rest optional. */
export type ObjectOf<P extends Shape, R extends keyof P> = Flatten<
  { [K in R]: ValueOf<P[K]> } & { [K in Exclude<keyof P, R>]?: ValueOf<P[K]> }
>;

export interface ObjectOptions<R extends string> extends CommonOptions {
  required?: readonly R[];
}

/** An object with known properties: the structural kind of object. */
export function obj<const P extends Shape, const R extends keyof P & string = never>(
  properties: P,
  options: ObjectOptions<R> = {},
): Schema<ObjectOf<P, R>> {
  const out: JSONSchemaProps = { type: 'object', ...common(options), properties };
  if (options.required && options.required.length > 0) out.required = [...options.required];
  return out;
}
