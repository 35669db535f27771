/**
 * The ValidatingWebhookConfiguration and MutatingWebhookConfiguration, generated, and their
 * registration (create or replace, so the caBundle of a rotated CA lands in both).
 *
 * What keeps a cluster from being wedged by these webhooks (see README):
 * - CREATE and UPDATE only: DELETE never reaches us, so deleting our objects or the namespace
 *   works with the webhook gone;
 * - a match condition skips objects already being deleted, so removing their finalizers
 *   (an UPDATE) never needs us either;
 * - status subresources are not in the rules: controllers' status writes never need us;
 * - kube-system is excluded by namespaceSelector;
 * - failurePolicy Fail only for longhorn.io kinds (whose rules are ours to enforce);
 *   PVCs, which every workload has, are Ignore: an outage must not block other storage.
 */
import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
  type AdmissionregistrationV1WebhookClientConfig as V1WebhookClientConfig,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '@longhorn-ts/api';
import { MUTATION_PATH, VALIDATION_PATH } from './server.js';

export const VALIDATING_CONFIGURATION_NAME = 'longhorn-webhook-validator';
export const MUTATING_CONFIGURATION_NAME = 'longhorn-webhook-mutator';
export const DEFAULT_TIMEOUT_SECONDS = 10;

/** Where the API server reaches the webhook: a Service in a cluster, a URL in the local mode. */
export type WebhookEndpoint =
  | { service: { namespace: string; name: string; port: number } }
  | { url: string };

export interface ConfigurationOptions {
  endpoint: WebhookEndpoint;
  /** PEM of the CA(s) that sign the serving certificate. */
  caBundle: string;
  timeoutSeconds?: number;
}

export const VALIDATED_RESOURCES = [
  'volumes',
  'nodes',
  'settings',
  'recurringjobs',
  'snapshots',
  'backuptargets',
];
export const MUTATED_RESOURCES = [
  'volumes',
  'engines',
  'replicas',
  'nodes',
  'snapshots',
  'recurringjobs',
  'volumeattachments',
];

const NAMESPACE_SELECTOR = {
  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }],
};

/** Objects being deleted are only having finalizers removed: never call us for them. */
const MATCH_CONDITIONS = [
  { name: 'not-being-deleted', expression: '!has(object.metadata.deletionTimestamp)' },
];

function clientConfig(options: ConfigurationOptions, path: string): V1WebhookClientConfig {
  const caBundle = Buffer.from(options.caBundle).toString('base64');
  if ('url' in options.endpoint)
    return { url: `${options.endpoint.url.replace(/\/$/, '')}${path}`, caBundle };
  return { service: { ...options.endpoint.service, path }, caBundle };
}

function longhornRule(resources: string[]) {
  return {
    apiGroups: [API_GROUP],
    apiVersions: [API_VERSION],
    operations: ['CREATE', 'UPDATE'],
    resources,
    scope: 'Namespaced',
  };
}

export function validatingConfiguration(options: ConfigurationOptions): V1ValidatingWebhookConfiguration {
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    timeoutSeconds: options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    namespaceSelector: NAMESPACE_SELECTOR,
    matchConditions: MATCH_CONDITIONS,
    matchPolicy: 'Equivalent',
    clientConfig: clientConfig(options, VALIDATION_PATH),
  };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: {
      name: VALIDATING_CONFIGURATION_NAME,
      labels: { 'app.kubernetes.io/name': 'longhorn-ts-webhooks' },
    },
    webhooks: [
      {
        name: 'validator.longhorn.io',
        failurePolicy: 'Fail',
        rules: [longhornRule(VALIDATED_RESOURCES)],
        ...common,
      },
      {
        name: 'pvc-validator.longhorn.io',
        failurePolicy: 'Ignore',
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['UPDATE'],
            resources: ['persistentvolumeclaims'],
            scope: 'Namespaced',
          },
        ],
        ...common,
      },
    ],
  };
}

export function mutatingConfiguration(options: ConfigurationOptions): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: MUTATING_CONFIGURATION_NAME,
      labels: { 'app.kubernetes.io/name': 'longhorn-ts-webhooks' },
    },
    webhooks: [
      {
        name: 'mutator.longhorn.io',
        failurePolicy: 'Fail',
        reinvocationPolicy: 'Never',
        rules: [longhornRule(MUTATED_RESOURCES)],
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        timeoutSeconds: options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        namespaceSelector: NAMESPACE_SELECTOR,
        matchConditions: MATCH_CONDITIONS,
        matchPolicy: 'Equivalent',
        clientConfig: clientConfig(options, MUTATION_PATH),
      },
    ],
  };
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** Creates both configurations, or replaces them (a new caBundle, new rules) when they exist. */
export async function registerConfigurations(
  kubeConfig: KubeConfig,
  options: ConfigurationOptions,
): Promise<void> {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const validating = validatingConfiguration(options);
  const mutating = mutatingConfiguration(options);
  for (let attempt = 0; ; attempt++) {
    try {
      await upsert(
        () => api.readValidatingWebhookConfiguration({ name: VALIDATING_CONFIGURATION_NAME }),
        () => api.createValidatingWebhookConfiguration({ body: validating }),
        (resourceVersion) =>
          api.replaceValidatingWebhookConfiguration({
            name: VALIDATING_CONFIGURATION_NAME,
            body: { ...validating, metadata: { ...validating.metadata, resourceVersion } },
          }),
      );
      await upsert(
        () => api.readMutatingWebhookConfiguration({ name: MUTATING_CONFIGURATION_NAME }),
        () => api.createMutatingWebhookConfiguration({ body: mutating }),
        (resourceVersion) =>
          api.replaceMutatingWebhookConfiguration({
            name: MUTATING_CONFIGURATION_NAME,
            body: { ...mutating, metadata: { ...mutating.metadata, resourceVersion } },
          }),
      );
      return;
    } catch (err) {
      // A conflict (someone else wrote in between) or a create race: read again and retry.
      const code = statusCode(err);
      if ((code === 409 || code === 404) && attempt < 5) continue;
      throw err;
    }
  }
}

async function upsert(
  read: () => Promise<{ metadata?: { resourceVersion?: string } }>,
  create: () => Promise<unknown>,
  replace: (resourceVersion: string | undefined) => Promise<unknown>,
): Promise<void> {
  let current: { metadata?: { resourceVersion?: string } } | undefined;
  try {
    current = await read();
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
  if (current === undefined) await create();
  else await replace(current.metadata?.resourceVersion);
}
