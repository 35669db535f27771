import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { type CachingInformer, ResilientInformer } from '../src/resilient-informer.js';

type Outcome = 'ok' | 'error' | 'throw';
type Callback = (arg: never) => void;

/** Stands in for client-node's ListWatch: each start() follows the next scripted outcome. */
class FakeInformer implements CachingInformer<KubernetesObject> {
  readonly callbacks = new Map<string, Callback[]>();
  readonly script: Outcome[] = [];
  starts = 0;
  stops = 0;
  readonly objects = new Map<string, KubernetesObject>();

  on(verb: string, cb: Callback): void {
    this.callbacks.set(verb, [...(this.callbacks.get(verb) ?? []), cb]);
  }
  off(): void {}

  async start(): Promise<void> {
    this.starts++;
    const outcome = this.script.shift() ?? 'ok';
    if (outcome === 'throw') throw new Error('connect ECONNREFUSED');
    if (outcome === 'error') this.fire('error', new Error('list failed: 500'));
  }

  async stop(): Promise<void> {
    this.stops++;
  }

  fire(verb: string, arg: unknown): void {
    for (const cb of this.callbacks.get(verb) ?? []) cb(arg as never);
  }

  get(name: string, namespace?: string): KubernetesObject | undefined {
    return this.objects.get(`${namespace ?? ''}/${name}`);
  }

  list(): ReadonlyArray<KubernetesObject> {
    return [...this.objects.values()];
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(script: Outcome[] = [], keysOf?: (obj: KubernetesObject) => string[]) {
  const clock = new ManualClock();
  const fake = new FakeInformer();
  fake.script.push(...script);
  const keys: string[] = [];
  const informer = new ResilientInformer({
    name: 'volumes',
    create: () => fake,
    enqueue: (k) => keys.push(k),
    clock,
    ...(keysOf && { keysOf }),
  });
  return { clock, fake, keys, informer };
}

const obj = (name: string, namespace = 'longhorn-system', labels: Record<string, string> = {}) => ({
  metadata: { name, namespace, labels },
});

describe('ResilientInformer', () => {
  it('turns add, update and delete into keys', async () => {
    const { fake, keys, informer } = setup();
    await informer.start();
    fake.fire('add', obj('v1'));
    fake.fire('update', obj('v2'));
    fake.fire('delete', obj('v1'));
    fake.fire('add', { metadata: { name: 'node-1' } });
    expect(keys).toEqual(['longhorn-system/v1', 'longhorn-system/v2', 'longhorn-system/v1', 'node-1']);
  });

  it('maps an object to the keys it concerns', async () => {
    const { fake, keys, informer } = setup([], (o) => [
      `longhorn-system/${o.metadata?.labels?.longhornvolume ?? ''}`,
    ]);
    await informer.start();
    fake.fire('update', obj('vol-r-1', 'longhorn-system', { longhornvolume: 'vol' }));
    expect(keys).toEqual(['longhorn-system/vol']);
  });

  it('is synced after a clean start', async () => {
    const { informer } = setup(['ok']);
    expect(informer.hasSynced).toBe(false);
    const synced = informer.waitForSync();
    await informer.start();
    await synced;
    expect(informer.hasSynced).toBe(true);
  });

  it('restarts after an error with back-off from 1 s doubling to 30 s', async () => {
    const { clock, fake, informer } = setup(['error', 'error', 'throw', 'error', 'error', 'error', 'error']);
    await informer.start();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      delays.push(clock.nextDelay()!);
      clock.advance(delays[i]! - 1);
      expect(fake.starts).toBe(i + 1);
      clock.advance(1);
      await flush();
      expect(fake.starts).toBe(i + 2);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(informer.hasSynced).toBe(true);
    expect(informer.restarts).toBe(7);
    expect(clock.pending).toBe(0);
  });

  it('starts the back-off over after a clean start', async () => {
    const { clock, fake, informer } = setup(['error', 'error', 'ok']);
    await informer.start();
    clock.advance(1000);
    await flush();
    clock.advance(2000);
    await flush();
    expect(fake.starts).toBe(3);
    expect(informer.hasSynced).toBe(true);
    // The watch breaks later with an error client-node does not recover from.
    fake.fire('error', new Error('watch: 500'));
    expect(clock.nextDelay()).toBe(1000);
    clock.advance(1000);
    await flush();
    expect(fake.starts).toBe(4);
  });

  it('schedules one restart however many errors arrive', async () => {
    const { clock, fake, informer } = setup();
    await informer.start();
    fake.fire('error', new Error('a'));
    fake.fire('error', new Error('b'));
    expect(clock.pending).toBe(1);
    clock.advance(1000);
    await flush();
    expect(fake.starts).toBe(2);
  });

  it('does not restart once stopped', async () => {
    const { clock, fake, informer } = setup(['error']);
    await informer.start();
    expect(clock.pending).toBe(1);
    await informer.stop();
    expect(clock.pending).toBe(0);
    fake.fire('error', new Error('late'));
    clock.advance(60_000);
    await flush();
    expect(fake.starts).toBe(1);
    expect(fake.stops).toBe(1);
    await informer.waitForSync();
  });

  it('reads through to the cache', async () => {
    const { fake, informer } = setup();
    fake.objects.set('longhorn-system/v1', obj('v1'));
    expect(informer.get('v1', 'longhorn-system')).toEqual(obj('v1'));
    expect(informer.list()).toHaveLength(1);
  });
});
