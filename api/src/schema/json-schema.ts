/**
 * The subset of apiextensions.k8s.io/v1 JSONSchemaProps that our CRDs use, plus a phantom type
 * parameter so a schema knows the TypeScript type of the values it admits.
 */

/** A CEL rule the API server checks (`x-kubernetes-validations`). */
export interface ValidationRule {
  rule: string;
  message: string;
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

export interface JSONSchemaProps {
  type?: SchemaType;
  description?: string;
  format?: string;
  enum?: (string | number)[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  nullable?: boolean;
  default?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
}

declare const valueType: unique symbol;

/**
 * A schema whose admitted values have the TypeScript type `T`. The type lives only in the type
 * system (the property is never set), so a schema is plain JSON and serialises as it is.
 */
export type Schema<T> = JSONSchemaProps & { readonly [valueType]?: T };

/** The TypeScript type of the values a schema admits. */
export type Infer<S> = S extends { readonly [valueType]?: infer T } ? T : never;
