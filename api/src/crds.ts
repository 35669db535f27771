/** Every longhorn.io/v1beta2 CustomResourceDefinition, built from the kinds' resource definitions. */
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { backupResource } from './backup.js';
import { backupTargetResource } from './backup-target.js';
import { backupVolumeResource } from './backup-volume.js';
import { engineResource } from './engine.js';
import { API_GROUP, API_VERSION } from './group.js';
import { instanceManagerResource } from './instance-manager.js';
import { nodeResource } from './node.js';
import { recurringJobResource } from './recurring-job.js';
import { replicaResource } from './replica.js';
import type { CustomResourceDefinition, ResourceDefinition } from './schema/crd.js';
import type { JSONSchemaProps } from './schema/json-schema.js';
import { settingResource } from './setting.js';
import { shareManagerResource } from './share-manager.js';
import { snapshotResource } from './snapshot.js';
import { volumeResource } from './volume.js';
import { volumeAttachmentResource } from './volume-attachment.js';

/** The kinds with controllers now, then the kinds with schemas only. */
export const RESOURCE_DEFINITIONS: readonly ResourceDefinition[] = [
  volumeResource,
  engineResource,
  replicaResource,
  nodeResource,
  snapshotResource,
  settingResource,
  volumeAttachmentResource,
  instanceManagerResource,
  backupResource,
  backupTargetResource,
  backupVolumeResource,
  recurringJobResource,
  shareManagerResource,
];

/** `kubectl get longhorn` lists every Longhorn object. */
export const CRD_CATEGORY = 'longhorn';

/** Labels on every CRD we ship. */
export const CRD_LABELS: Record<string, string> = {
  'app.kubernetes.io/name': 'longhorn-ts',
  'app.kubernetes.io/component': 'crds',
};

/** `volumes.longhorn.io` and the like. */
export function crdName(resource: Pick<ResourceDefinition, 'plural'>): string {
  return `${resource.plural}.${API_GROUP}`;
}

/** The whole object schema: apiVersion, kind and metadata around the kind's own properties. */
export function objectSchema(resource: ResourceDefinition): JSONSchemaProps {
  const schema: JSONSchemaProps = {
    type: 'object',
    description: resource.description,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      ...resource.properties,
    },
  };
  if (resource.required && resource.required.length > 0) schema.required = [...resource.required];
  return schema;
}

export function customResourceDefinition(resource: ResourceDefinition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName(resource), labels: { ...CRD_LABELS } },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: resource.kind,
        listKind: `${resource.kind}List`,
        plural: resource.plural,
        singular: resource.kind.toLowerCase(),
        shortNames: [...resource.shortNames],
        categories: [CRD_CATEGORY],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: objectSchema(resource) },
          subresources: { status: {} },
          additionalPrinterColumns: resource.printerColumns,
        },
      ],
    },
  };
}

export function longhornCrds(): CustomResourceDefinition[] {
  return RESOURCE_DEFINITIONS.map(customResourceDefinition);
}

/** The committed CRD file, api/crds/longhorn-ts-crds.yaml (found from src/ and dist/ alike). */
export const CRDS_YAML_PATH = fileURLToPath(new URL('../crds/longhorn-ts-crds.yaml', import.meta.url));

const HEADER = [
  '# longhorn.io/v1beta2 CustomResourceDefinitions of longhorn-ts.',
  '# Generated from api/src by api/src/generate-crds.ts: do not edit; run',
  '#   npx tsc -b api && node api/dist/generate-crds.js',
].join('\n');

/** The CRDs as one multi-document YAML file. */
export function renderCrdsYaml(crds: CustomResourceDefinition[] = longhornCrds()): string {
  const documents = crds.map((crd) => stringify(crd, { lineWidth: 0 }));
  return `${HEADER}\n---\n${documents.join('---\n')}`;
}
