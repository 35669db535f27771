/**
 * Which nodes have a working operator: each operator holds a Lease
 * `longhorn-ts-operator-<node>` in the namespace and renews it every few seconds; a node is live
 * while its lease is fresh and its Kubernetes Node (if it has one) is not NotReady. Ownership
 * (ownership.ts) hands a dead node's objects to the survivors.
 *
 * Leases expire without an event, so the tracker re-evaluates the cached leases on a timer
 * (a cache read, not an API call) and reports when the live set changes.
 */

import { CoordinationV1Api, type KubeConfig, type V1Lease, type V1Node } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../runtime/clock.js';

export const LEASE_PREFIX = 'longhorn-ts-operator-';
export const LEASE_DURATION_SECONDS = 15;
export const LEASE_RENEW_MS = 3_000;

export function leaseName(node: string): string {
  return `${LEASE_PREFIX}${node}`;
}

function timeOf(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = v instanceof Date ? v.getTime() : Date.parse(String(v));
  return Number.isNaN(t) ? undefined : t;
}

/** Is the Kubernetes Node Ready (a node without a Ready condition counts as ready)? */
export function k8sNodeReady(node: V1Node | undefined): boolean {
  const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
  return ready === undefined || ready.status === 'True';
}

/** The nodes whose operator is up at `now`. */
export function liveNodes(
  leases: readonly V1Lease[],
  k8sNodes: readonly V1Node[],
  now: number,
  self?: string,
): Set<string> {
  const byName = new Map(k8sNodes.map((n) => [n.metadata?.name ?? '', n]));
  const live = new Set<string>();
  for (const lease of leases) {
    const name = lease.metadata?.name ?? '';
    if (!name.startsWith(LEASE_PREFIX)) continue;
    const node = lease.spec?.holderIdentity ?? name.slice(LEASE_PREFIX.length);
    const renewed = timeOf(lease.spec?.renewTime) ?? timeOf(lease.spec?.acquireTime);
    const duration = (lease.spec?.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000;
    if (renewed === undefined || renewed + duration <= now) continue;
    if (!k8sNodeReady(byName.get(node))) continue;
    live.add(node);
  }
  if (self !== undefined) live.add(self);
  return live;
}

/** The earliest time a currently fresh lease expires, for the re-evaluation timer. */
export function nextExpiry(leases: readonly V1Lease[], now: number): number | undefined {
  let min: number | undefined;
  for (const lease of leases) {
    const renewed = timeOf(lease.spec?.renewTime) ?? timeOf(lease.spec?.acquireTime);
    if (renewed === undefined) continue;
    const at = renewed + (lease.spec?.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000;
    if (at > now && (min === undefined || at < min)) min = at;
  }
  return min;
}

export interface LivenessSources {
  leases(): readonly V1Lease[];
  k8sNodes(): readonly V1Node[];
}

export class LivenessTracker {
  private current = new Set<string>();
  private timer: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly self: string,
    private readonly sources: LivenessSources,
    private readonly clock: Clock,
    private readonly onChange: (live: ReadonlySet<string>, changed: string[]) => void,
    private readonly log: Logger,
  ) {}

  live(): ReadonlySet<string> {
    return this.current;
  }

  isLive(node: string): boolean {
    return this.current.has(node);
  }

  /** Re-read the caches now (on any lease or node event) and re-arm the expiry timer. */
  refresh(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const next = liveNodes(this.sources.leases(), this.sources.k8sNodes(), now, this.self);
    const changed = [...new Set([...next, ...this.current])].filter(
      (n) => next.has(n) !== this.current.has(n),
    );
    this.current = next;
    if (changed.length > 0) {
      this.log.info({ live: [...next].sort(), changed }, 'live nodes changed');
      this.onChange(next, changed);
    }
    this.timer?.cancel();
    const expiry = nextExpiry(this.sources.leases(), now);
    // Never wait longer than a lease: a node whose lease was never seen may appear meanwhile.
    const delay = Math.min(expiry === undefined ? LEASE_RENEW_MS : expiry - now + 50, LEASE_RENEW_MS);
    this.timer = this.clock.setTimer(() => this.refresh(), Math.max(50, delay));
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }
}

/** Keeps this operator's Lease fresh; on stop the lease is left to expire (or released). */
export class LeaseRenewer {
  private readonly api: CoordinationV1Api;
  private timer: Timer | undefined;
  private stopped = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly node: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  async start(): Promise<void> {
    await this.renew();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(() => {
      this.renew()
        .catch((err: unknown) => this.log.warn({ err }, 'lease renewal failed'))
        .finally(() => this.schedule());
    }, LEASE_RENEW_MS);
  }

  private async renew(): Promise<void> {
    const name = leaseName(this.node);
    // MicroTime wants six fractional digits; client-node would send a Date with three.
    const now = new Date(this.clock.now()).toISOString().replace(/Z$/, '000Z') as unknown as Date;
    let existing: V1Lease | undefined;
    try {
      existing = await this.api.readNamespacedLease({ name, namespace: this.namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    const spec = {
      holderIdentity: this.node,
      leaseDurationSeconds: LEASE_DURATION_SECONDS,
      renewTime: now,
      acquireTime: existing?.spec?.acquireTime ?? now,
    };
    if (existing === undefined) {
      await this.api.createNamespacedLease({
        namespace: this.namespace,
        body: { metadata: { name, namespace: this.namespace }, spec },
      });
      return;
    }
    await this.api.replaceNamespacedLease({
      name,
      namespace: this.namespace,
      body: { ...existing, spec: { ...existing.spec, ...spec } },
    });
  }

  /** Stop renewing; `release` lets the others take over at once instead of after expiry. */
  async stop(release: boolean): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    if (!release) return;
    try {
      await this.api.deleteNamespacedLease({ name: leaseName(this.node), namespace: this.namespace });
    } catch {
      // Expires by itself.
    }
  }
}
