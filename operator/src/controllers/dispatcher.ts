/**
 * One informer per kind feeds every controller that cares about that kind: each controller
 * registers a mapper from an object to the keys it should look at (its own, or a parent's:
 * a Replica event concerns its Volume too). Informers only enqueue keys.
 */

import type { KubernetesObject } from '@kubernetes/client-node';
import type { WorkQueue } from '../runtime/work-queue.js';

export type KeyMapper<T> = (obj: T) => readonly string[];

export class Dispatcher {
  private readonly queues = new Map<string, WorkQueue>();
  private readonly mappers = new Map<string, Array<{ controller: string; map: KeyMapper<unknown> }>>();

  addQueue(controller: string, queue: WorkQueue): void {
    this.queues.set(controller, queue);
  }

  /** `controller` wants the keys `map` returns for every event of `kind`. */
  watch<T>(kind: string, controller: string, map: KeyMapper<T>): void {
    const list = this.mappers.get(kind) ?? [];
    list.push({ controller, map: map as KeyMapper<unknown> });
    this.mappers.set(kind, list);
  }

  /** Routed keys `controller\u0000key` for one object of `kind`: the informer's keysOf. */
  keysOf(kind: string): (obj: KubernetesObject) => string[] {
    return (obj) => {
      const out: string[] = [];
      for (const { controller, map } of this.mappers.get(kind) ?? []) {
        for (const key of map(obj)) if (key !== '') out.push(`${controller}\u0000${key}`);
      }
      return out;
    };
  }

  /** The informer's enqueue: a routed key goes to its controller's queue. */
  readonly enqueue = (routed: string): void => {
    const i = routed.indexOf('\u0000');
    if (i < 0) return;
    this.queues.get(routed.slice(0, i))?.add(routed.slice(i + 1));
  };

  /** Enqueue directly (timers, liveness changes). */
  add(controller: string, key: string): void {
    this.queues.get(controller)?.add(key);
  }
}
