/** apiextensions.k8s.io/v1 CustomResourceDefinition, as much of it as we write. */
import type { JSONSchemaProps } from './json-schema.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  /** 0 shows in `kubectl get`; higher only with `-o wide`. */
  priority?: number;
}

/** The column every Longhorn CRD ends with. */
export const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
};

/** What one kind contributes to its CRD; `crds.ts` turns it into the CustomResourceDefinition. */
export interface ResourceDefinition {
  kind: string;
  plural: string;
  shortNames: string[];
  description: string;
  /** Top-level properties besides apiVersion, kind and metadata: `spec` and `status` mostly. */
  properties: Record<string, JSONSchemaProps>;
  required?: string[];
  printerColumns: PrinterColumn[];
}

export interface CustomResourceDefinitionVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: JSONSchemaProps };
  subresources: { status: Record<string, never> };
  additionalPrinterColumns: PrinterColumn[];
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced';
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    versions: CustomResourceDefinitionVersion[];
  };
}
