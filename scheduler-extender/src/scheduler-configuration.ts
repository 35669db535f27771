/**
 * The `extenders` entry of a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) that
 * points kube-scheduler at this extender.
 */

export interface ExtenderStanzaOptions {
  /** Where the extender listens, e.g. `http://127.0.0.1:8095` (the verbs are appended). */
  urlPrefix: string;
  /**
   * Multiplies our 0..10 score (the scheduler scales it to 0..100 first). 5 makes a replica's node
   * clearly preferred over the default plugins' small differences, yet taints and affinity still count.
   */
  weight?: number;
  /** Per call; a hung extender delays each pod at most this long per verb. */
  httpTimeout?: string;
}

export interface ExtenderStanza {
  urlPrefix: string;
  filterVerb: string;
  prioritizeVerb: string;
  weight: number;
  enableHTTPS: boolean;
  nodeCacheCapable: boolean;
  managedResources: { name: string; ignoredByScheduler?: boolean }[];
  ignorable: boolean;
  httpTimeout: string;
}

export const FILTER_VERB = 'filter';
export const PRIORITIZE_VERB = 'prioritize';

export function extenderStanza(options: ExtenderStanzaOptions): ExtenderStanza {
  return {
    urlPrefix: options.urlPrefix.replace(/\/+$/, ''),
    filterVerb: FILTER_VERB,
    prioritizeVerb: PRIORITIZE_VERB,
    weight: options.weight ?? 5,
    enableHTTPS: options.urlPrefix.startsWith('https:'),
    // The extender keeps its own informer caches: the scheduler sends node names, not Node objects.
    nodeCacheCapable: true,
    // Empty: every pod is sent to us (we decide from its volumes), none is kept from the scheduler.
    managedResources: [],
    // An extender outage (down, slow, erroring) must never stop pods from being scheduled.
    ignorable: true,
    httpTimeout: options.httpTimeout ?? '2s',
  };
}

/** A whole KubeSchedulerConfiguration with this extender, for a scheduler's --config file. */
export function schedulerConfigurationWithExtender(
  options: ExtenderStanzaOptions & { kubeconfig?: string },
): Record<string, unknown> {
  return {
    apiVersion: 'kubescheduler.config.k8s.io/v1',
    kind: 'KubeSchedulerConfiguration',
    ...(options.kubeconfig && { clientConnection: { kubeconfig: options.kubeconfig } }),
    extenders: [extenderStanza(options)],
  };
}
