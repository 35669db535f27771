/**
 * A KubeConfig whose API calls give up. @kubernetes/client-node sends every call through
 * node-fetch with no timeout: an API server that accepts a request and never answers (or a
 * connection lost without a reset) leaves the caller waiting for good, and a controller
 * waiting inside a reconcile never sees its key again. Every call made through an API client
 * of this config carries an abort signal that fires after `timeoutMs` (unless the caller set
 * one); the call then fails like any other transient error and the work is retried.
 *
 * Watches are not bounded: they are meant to stay open (client-node's Watch does not pass
 * through here), and the informers restart them when they end.
 */

import { KubeConfig } from '@kubernetes/client-node';

/** A bound no healthy API server comes near for the small objects these components read and write. */
export const DEFAULT_API_TIMEOUT_MS = 30_000;

type SecurityContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

export class BoundedKubeConfig extends KubeConfig {
  constructor(readonly timeoutMs = DEFAULT_API_TIMEOUT_MS) {
    super();
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new Error(`API request timeout must be a positive number of ms, not ${timeoutMs}`);
  }

  override async applySecurityAuthentication(context: SecurityContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    if (context.getSignal() === undefined) context.setSignal(AbortSignal.timeout(this.timeoutMs));
  }
}
