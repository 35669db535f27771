/**
 * kubectl's kubeconfig resolution: --kubeconfig, else KUBECONFIG (a list of files, merged), else
 * ~/.kube/config, else the in-cluster service account; then --context over the current context.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { PluginError, usageError } from '../errors.js';

export interface KubeconfigFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

export function loadKubeConfig(flags: KubeconfigFlags): KubeConfig {
  const kc = new KubeConfig();
  if (flags.kubeconfig !== undefined && flags.kubeconfig !== '') {
    if (!existsSync(flags.kubeconfig)) throw usageError(`kubeconfig ${flags.kubeconfig} does not exist`);
    kc.loadFromFile(flags.kubeconfig);
  } else {
    kc.loadFromDefault();
  }
  if (flags.context !== undefined && flags.context !== '') {
    if (!kc.getContexts().some((c) => c.name === flags.context)) {
      throw usageError(`context "${flags.context}" not found in the kubeconfig`);
    }
    kc.setCurrentContext(flags.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw new PluginError(
      'UNREACHABLE',
      'no Kubernetes cluster configured: set --kubeconfig, KUBECONFIG or ~/.kube/config',
    );
  }
  return kc;
}
