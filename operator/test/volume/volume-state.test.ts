import { describe, expect, it } from 'vitest';
import {
  type Action,
  DEFAULT_VOLUME_SETTINGS,
  type EngineView,
  type Observed,
  type ReplicaMode,
  type ReplicaView,
  type VolumeStatusOut,
  type VolumeView,
} from '../../src/volume/volume-model.js';
import { next } from '../../src/volume/volume-state.js';

const G = 2 ** 30;
const NOW_ISO = '2024-05-01T12:00:00Z';
const NOW = Date.parse(NOW_ISO);
const ago = (minutes: number) => new Date(NOW - minutes * 60_000).toISOString().replace('.000Z', 'Z');
const T0 = ago(600);

type VolumeOverrides = {
  deleting?: boolean;
  spec?: Partial<VolumeView['spec']>;
  status?: Partial<VolumeView['status']>;
};

function volume(o: VolumeOverrides = {}): VolumeView {
  return {
    name: 'vol',
    deleting: o.deleting ?? false,
    spec: {
      nodeID: '',
      numberOfReplicas: 3,
      size: G,
      staleReplicaTimeout: 30,
      dataLocality: 'disabled',
      disableFrontend: false,
      ...o.spec,
    },
    status: {
      state: 'detached',
      robustness: 'unknown',
      currentNodeID: '',
      lastDegradedAt: '',
      remountRequestedAt: '',
      lastAutoSalvagedAt: '',
      ...o.status,
    },
  };
}

/** A volume attached (and wanted) on node a. */
const attachedVolume = (o: VolumeOverrides = {}) =>
  volume({
    ...o,
    spec: { nodeID: 'a', ...o.spec },
    status: { state: 'attached', currentNodeID: 'a', robustness: 'healthy', ...o.status },
  });

function engine(o: Partial<EngineView> = {}): EngineView {
  return {
    name: 'vol-e-0',
    nodeID: '',
    desireState: 'stopped',
    currentState: 'stopped',
    replicaAddresses: {},
    endpoint: '',
    currentSize: G,
    salvageRequested: false,
    salvageExecuted: false,
    nodeDown: false,
    ...o,
  };
}

const addr = (name: string) => `${name.slice(2)}:10000`;

/** An engine running on node a with these replicas in these modes. */
function runningEngine(modes: Record<string, ReplicaMode>, o: Partial<EngineView> = {}): EngineView {
  return engine({
    nodeID: 'a',
    desireState: 'running',
    currentState: 'running',
    endpoint: 'nbd://a:10809/vol',
    replicaAddresses: Object.fromEntries(Object.keys(modes).map((n) => [n, addr(n)])),
    replicaModes: modes,
    ...o,
  });
}

/** A healthy replica r-<node>, stopped. */
function replica(node: string, o: Partial<ReplicaView> = {}): ReplicaView {
  return {
    name: `r-${node}`,
    nodeID: node,
    diskID: `disk-${node}`,
    hardNodeAffinity: '',
    desireState: 'stopped',
    currentState: 'stopped',
    failedAt: '',
    lastFailedAt: '',
    healthyAt: T0,
    lastHealthyAt: T0,
    rebuildRetryCount: 0,
    evictionRequested: false,
    deleting: false,
    address: '',
    nodeDown: false,
    diskSchedulable: true,
    reusable: true,
    ...o,
  };
}

const running = (node: string, o: Partial<ReplicaView> = {}) =>
  replica(node, { desireState: 'running', currentState: 'running', address: addr(`r-${node}`), ...o });
const failed = (node: string, minutesAgo: number, o: Partial<ReplicaView> = {}) =>
  replica(node, { failedAt: ago(minutesAgo), lastFailedAt: ago(minutesAgo), ...o });
const fresh = (node: string, o: Partial<ReplicaView> = {}) =>
  replica(node, { healthyAt: '', lastHealthyAt: '', ...o });

const allRW = { 'r-a': 'RW', 'r-b': 'RW', 'r-c': 'RW' } as const;

interface Row {
  name: string;
  volume: VolumeView;
  engine?: EngineView;
  replicas: ReplicaView[];
  settings?: Partial<Observed['settings']>;
  rebuildsPerNode?: Record<string, number>;
  status?: Partial<VolumeStatusOut>;
  actions: Action[];
  events?: string[];
  requeueAfterMs?: number;
}

const startEngine = (nodeID: string, names: string[]): Action => ({
  kind: 'startEngine',
  nodeID,
  replicaAddresses: Object.fromEntries(names.map((n) => [n, addr(n)])),
  disableFrontend: false,
});

const rows: Row[] = [
  // --- lifecycle ---
  {
    name: 'a new volume gets an engine and its replicas',
    volume: volume({ status: { state: '' } }),
    replicas: [],
    status: { state: 'creating', robustness: 'unknown' },
    actions: [
      { kind: 'createEngine' },
      { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
      { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
      { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
    ],
  },
  {
    name: 'an engine without replicas gets its replicas',
    volume: volume({ status: { state: 'creating' } }),
    engine: engine(),
    replicas: [],
    status: { state: 'detached' },
    actions: [
      { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
      { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
      { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
    ],
    events: ['Detached'],
  },
  {
    name: 'creating becomes detached once everything reports stopped',
    volume: volume({ status: { state: 'creating' } }),
    engine: engine(),
    replicas: [fresh('a'), fresh('b'), fresh('c')],
    status: { state: 'detached', robustness: 'unknown', currentNodeID: '' },
    actions: [],
    events: ['Detached'],
  },
  {
    name: 'creating waits for replicas that have not reported',
    volume: volume({ status: { state: 'creating' } }),
    engine: engine(),
    replicas: [fresh('a'), fresh('b', { currentState: 'unknown' }), fresh('c')],
    status: { state: 'detaching' },
    actions: [],
  },
  {
    name: 'detached and wanted on a: start the replicas',
    volume: volume({ spec: { nodeID: 'a' } }),
    engine: engine(),
    replicas: [replica('a'), replica('b'), replica('c')],
    status: { state: 'attaching', currentNodeID: '' },
    actions: [
      { kind: 'startReplica', replica: 'r-a' },
      { kind: 'startReplica', replica: 'r-b' },
      { kind: 'startReplica', replica: 'r-c' },
    ],
  },
  {
    name: 'attaching: no engine until every replica that may hold data runs',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: engine(),
    replicas: [
      running('a'),
      running('b'),
      replica('c', { desireState: 'running', currentState: 'starting' }),
    ],
    status: { state: 'attaching', currentNodeID: '' },
    actions: [],
  },
  {
    name: 'attaching: replicas run, start the engine on a',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: engine(),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attaching', currentNodeID: '' },
    actions: [startEngine('a', ['r-a', 'r-b', 'r-c'])],
  },
  {
    name: 'attaching: a failed replica is left out of the engine',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: engine(),
    replicas: [running('a'), running('b'), failed('c', 5)],
    status: { state: 'attaching' },
    actions: [startEngine('a', ['r-a', 'r-b'])],
    requeueAfterMs: 25 * 60_000 + 1000,
  },
  {
    name: 'attaching: the frontend is disabled for the engine when asked',
    volume: volume({ spec: { nodeID: 'a', disableFrontend: true }, status: { state: 'attaching' } }),
    engine: engine(),
    replicas: [running('a')],
    status: { state: 'attaching', frontendDisabled: true },
    actions: [{ ...(startEngine('a', ['r-a']) as object), disableFrontend: true } as Action],
  },
  {
    name: 'attaching: engine running without an endpoint is not attached yet',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: runningEngine(allRW, { endpoint: '' }),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attaching', currentNodeID: '' },
    actions: [],
  },
  {
    name: 'attaching: engine running before it reports modes is not attached yet',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: runningEngine(allRW, { replicaModes: undefined }),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attaching', currentNodeID: '' },
    actions: [],
  },
  {
    name: 'attaching: engine serves with replicas RW: attached',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: runningEngine(allRW),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attached', currentNodeID: 'a', robustness: 'healthy' },
    actions: [],
    events: ['Attached'],
  },
  {
    name: 'first attach of a new volume: its replicas become healthy',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: runningEngine(allRW),
    replicas: [
      running('a', { healthyAt: '', lastHealthyAt: '' }),
      running('b', { healthyAt: '', lastHealthyAt: '' }),
      running('c', { healthyAt: '', lastHealthyAt: '' }),
    ],
    status: { state: 'attached', currentNodeID: 'a', robustness: 'healthy' },
    actions: [
      { kind: 'markReplicaHealthy', replica: 'r-a', at: NOW_ISO, first: true },
      { kind: 'markReplicaHealthy', replica: 'r-b', at: NOW_ISO, first: true },
      { kind: 'markReplicaHealthy', replica: 'r-c', at: NOW_ISO, first: true },
    ],
    events: ['Attached'],
  },
  {
    name: 'attaching with the frontend disabled needs no endpoint',
    volume: volume({ spec: { nodeID: 'a', disableFrontend: true }, status: { state: 'attaching' } }),
    engine: runningEngine(allRW, { endpoint: '' }),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attached', currentNodeID: 'a' },
    actions: [],
    events: ['Attached'],
  },
  {
    name: 'attached and still wanted: stable',
    volume: attachedVolume(),
    engine: runningEngine(allRW),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attached', currentNodeID: 'a', robustness: 'healthy' },
    actions: [],
  },
  {
    name: 'attached and no longer wanted: stop the engine first',
    volume: attachedVolume({ spec: { nodeID: '' } }),
    engine: runningEngine(allRW),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'detaching', currentNodeID: 'a', robustness: 'unknown' },
    actions: [{ kind: 'stopEngine' }],
  },
  {
    name: 'attached but wanted elsewhere: detach first',
    volume: attachedVolume({ spec: { nodeID: 'b' } }),
    engine: runningEngine(allRW),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'detaching', currentNodeID: 'a' },
    actions: [{ kind: 'stopEngine' }],
  },
  {
    name: 'detaching: replicas keep running while the engine stops',
    volume: volume({ status: { state: 'detaching', currentNodeID: 'a' } }),
    engine: engine({ currentState: 'stopping' }),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'detaching', currentNodeID: 'a' },
    actions: [],
  },
  {
    name: 'detaching: engine stopped, stop the replicas',
    volume: volume({ status: { state: 'detaching', currentNodeID: 'a' } }),
    engine: engine(),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'detaching', currentNodeID: 'a' },
    actions: [
      { kind: 'stopReplica', replica: 'r-a' },
      { kind: 'stopReplica', replica: 'r-b' },
      { kind: 'stopReplica', replica: 'r-c' },
    ],
  },
  {
    name: 'detaching: all stopped, detached and currentNodeID cleared',
    volume: volume({ status: { state: 'detaching', currentNodeID: 'a' } }),
    engine: engine(),
    replicas: [replica('a'), replica('b'), replica('c')],
    status: { state: 'detached', currentNodeID: '' },
    actions: [],
    events: ['Detached'],
  },
  {
    name: 'detaching: a replica on a down node counts as stopped once told to stop',
    volume: volume({ status: { state: 'detaching', currentNodeID: 'a' } }),
    engine: engine(),
    replicas: [replica('a'), replica('b'), replica('c', { currentState: 'unknown', nodeDown: true })],
    status: { state: 'detached', currentNodeID: '' },
    actions: [],
    events: ['Detached'],
  },
  {
    name: 'detaching: a replica being rebuilt is failed, its rebuild is lost',
    volume: volume({ status: { state: 'detaching', currentNodeID: 'a' } }),
    engine: engine(),
    replicas: [running('a'), running('b'), running('c', { healthyAt: '', lastHealthyAt: '' })],
    status: { state: 'detaching' },
    actions: [
      {
        kind: 'markReplicaFailed',
        replica: 'r-c',
        at: NOW_ISO,
        reason: 'it was being rebuilt when the volume detached',
      },
      { kind: 'stopReplica', replica: 'r-c' },
      { kind: 'stopReplica', replica: 'r-a' },
      { kind: 'stopReplica', replica: 'r-b' },
    ],
  },
  {
    name: 'detached with a replica on a down node: it fails when the volume opens',
    volume: volume({ spec: { nodeID: 'a' } }),
    engine: engine(),
    replicas: [replica('a'), replica('b'), replica('c', { nodeDown: true, currentState: 'unknown' })],
    status: { state: 'attaching' },
    actions: [
      { kind: 'startReplica', replica: 'r-a' },
      { kind: 'startReplica', replica: 'r-b' },
      {
        kind: 'markReplicaFailed',
        replica: 'r-c',
        at: NOW_ISO,
        reason: 'the volume is not attached and node c is down',
      },
    ],
  },

  // --- robustness and replenishment ---
  {
    name: 'a replica in ERR fails: degraded, and dropped from the engine',
    volume: attachedVolume(),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW', 'r-c': 'ERR' }),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attached', robustness: 'degraded', lastDegradedAt: NOW_ISO },
    actions: [
      { kind: 'markReplicaFailed', replica: 'r-c', at: NOW_ISO, reason: 'the engine set the replica to ERR' },
      { kind: 'stopReplica', replica: 'r-c' },
      { kind: 'removeReplicaFromEngine', replica: 'r-c' },
    ],
    events: ['Degraded'],
    requeueAfterMs: 30 * 60_000 + 1000,
  },
  {
    name: 'degraded: the failed replica is reused first',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 1)],
    status: { robustness: 'degraded', lastDegradedAt: ago(1) },
    actions: [
      { kind: 'reuseReplica', replica: 'r-c', rebuildRetryCount: 1 },
      { kind: 'startReplica', replica: 'r-c' },
    ],
  },
  {
    name: 'degraded: a replica that failed a second ago waits out its reuse back-off (2 s)',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 1 / 60)],
    status: { robustness: 'degraded', lastDegradedAt: ago(1) },
    actions: [],
    requeueAfterMs: 1000,
  },
  {
    name: 'degraded: the back-off doubles with each failed rebuild (3 s after, 2 retries: 8 s)',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 3 / 60, { rebuildRetryCount: 2 })],
    status: { robustness: 'degraded', lastDegradedAt: ago(1) },
    actions: [],
    requeueAfterMs: 5000,
  },
  {
    name: 'degraded: of two reusable replicas the one that failed last',
    volume: attachedVolume({
      spec: { numberOfReplicas: 4 },
      status: { robustness: 'degraded', lastDegradedAt: ago(5) },
    }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 5), failed('d', 3)],
    status: { robustness: 'degraded' },
    actions: [
      { kind: 'reuseReplica', replica: 'r-d', rebuildRetryCount: 1 },
      { kind: 'startReplica', replica: 'r-d' },
    ],
    requeueAfterMs: 25 * 60_000 + 1000,
  },
  {
    name: 'degraded: the reused replica runs, the engine rebuilds it',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), running('c', { healthyAt: '', rebuildRetryCount: 1 })],
    status: { robustness: 'degraded' },
    actions: [{ kind: 'addReplicaToEngine', replica: 'r-c', address: 'c:10000' }],
  },
  {
    name: 'degraded: no new rebuild while one runs',
    volume: attachedVolume({
      spec: { numberOfReplicas: 4 },
      status: { robustness: 'degraded', lastDegradedAt: ago(1) },
    }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW', 'r-c': 'WO' }),
    replicas: [running('a'), running('b'), running('c', { healthyAt: '' }), running('d', { healthyAt: '' })],
    status: { robustness: 'degraded' },
    actions: [],
  },
  {
    name: 'degraded: the per-node rebuild limit holds the next one back',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), running('c', { healthyAt: '' })],
    rebuildsPerNode: { c: 5 },
    status: { robustness: 'degraded' },
    actions: [],
    requeueAfterMs: 5000,
  },
  {
    name: 'rebuild done: healthy again',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(3) } }),
    engine: runningEngine(allRW),
    replicas: [
      running('a'),
      running('b'),
      running('c', { healthyAt: '', lastHealthyAt: T0, rebuildRetryCount: 1 }),
    ],
    status: { robustness: 'healthy', lastDegradedAt: '' },
    actions: [{ kind: 'markReplicaHealthy', replica: 'r-c', at: NOW_ISO, first: true }],
    events: ['Healthy'],
  },
  {
    name: 'a salvaged replica that turns RW records it',
    volume: attachedVolume(),
    engine: runningEngine(allRW),
    replicas: [running('a'), running('b'), running('c', { lastFailedAt: ago(2), lastHealthyAt: ago(5) })],
    status: { robustness: 'healthy' },
    actions: [{ kind: 'markReplicaHealthy', replica: 'r-c', at: NOW_ISO, first: false }],
  },
  {
    name: 'degraded: a replica that may come back is waited for',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(5) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 5, { reusable: false, nodeDown: true })],
    status: { robustness: 'degraded' },
    actions: [],
    requeueAfterMs: 5 * 60_000 + 1000,
  },
  {
    name: 'degraded: the wait is over, a new replica',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(11) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 11, { reusable: false, nodeDown: true })],
    status: { robustness: 'degraded' },
    actions: [{ kind: 'createReplica', hardNodeAffinity: '', rebuild: true }],
    requeueAfterMs: 19 * 60_000 + 1000,
  },
  {
    name: 'degraded: a replica past its retries is replaced at once and deleted',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 1, { rebuildRetryCount: 5 })],
    status: { robustness: 'degraded' },
    actions: [
      { kind: 'createReplica', hardNodeAffinity: '', rebuild: true },
      { kind: 'deleteReplica', replica: 'r-c', reason: 'failed to rebuild too many times' },
    ],
  },
  {
    name: 'degraded: rebuilds switched off',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(20) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 1)],
    settings: { concurrentReplicaRebuildPerNodeLimit: 0 },
    status: { robustness: 'degraded' },
    actions: [],
    requeueAfterMs: 29 * 60_000 + 1000,
  },
  {
    name: 'degraded: no rebuild during an expansion',
    volume: attachedVolume({
      spec: { size: 2 * G },
      status: { robustness: 'degraded', lastDegradedAt: ago(20) },
    }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), failed('c', 1)],
    status: { robustness: 'degraded' },
    actions: [],
    requeueAfterMs: 29 * 60_000 + 1000,
  },
  {
    name: 'degraded: no rebuild until the engine reports every replica',
    volume: attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }, { replicaAddresses: { 'r-a': 'a:10000' } }),
    replicas: [running('a'), running('b'), failed('c', 1)],
    status: { robustness: 'degraded' },
    actions: [{ kind: 'addReplicaToEngine', replica: 'r-b', address: 'b:10000' }],
    requeueAfterMs: 29 * 60_000 + 1000,
  },
  {
    name: 'an engine in an unknown state makes robustness unknown',
    volume: attachedVolume(),
    engine: runningEngine(allRW, { currentState: 'unknown' }),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attached', robustness: 'unknown' },
    actions: [],
    events: ['Unknown'],
  },
  {
    name: 'a replica whose process errs before the engine runs fails',
    volume: volume({ spec: { nodeID: 'a' }, status: { state: 'attaching' } }),
    engine: engine(),
    replicas: [running('a'), running('b'), replica('c', { desireState: 'running', currentState: 'error' })],
    status: { state: 'attaching' },
    actions: [
      { kind: 'markReplicaFailed', replica: 'r-c', at: NOW_ISO, reason: 'the replica process is in error' },
      { kind: 'stopReplica', replica: 'r-c' },
      startEngine('a', ['r-a', 'r-b']),
    ],
    requeueAfterMs: 30 * 60_000 + 1000,
  },

  // --- cleanup ---
  {
    name: 'a failed replica past staleReplicaTimeout is deleted',
    volume: volume(),
    engine: engine(),
    replicas: [replica('a'), replica('b'), failed('c', 31)],
    actions: [
      { kind: 'deleteReplica', replica: 'r-c', reason: 'failed too long ago to be useful during a rebuild' },
    ],
  },
  {
    name: 'a failed replica before staleReplicaTimeout is kept, with a recheck',
    volume: volume(),
    engine: engine(),
    replicas: [replica('a'), replica('b'), failed('c', 29)],
    actions: [],
    requeueAfterMs: 61_000,
  },
  {
    name: 'staleReplicaTimeout 0 keeps failed replicas',
    volume: volume({ spec: { staleReplicaTimeout: 0 } }),
    engine: engine(),
    replicas: [replica('a'), replica('b'), failed('c', 10_000)],
    actions: [],
  },
  {
    name: 'the possible last copy is never deleted',
    volume: volume(),
    engine: engine(),
    replicas: [failed('a', 120), failed('b', 121), failed('c', 122)],
    settings: { autoSalvage: false },
    status: { robustness: 'faulted' },
    actions: [],
  },
  {
    name: 'with no safe replica, a failed one that never held data may still go',
    volume: volume(),
    engine: engine(),
    replicas: [failed('a', 120), failed('c', 122, { healthyAt: '', lastHealthyAt: '' })],
    settings: { autoSalvage: false },
    status: { robustness: 'faulted' },
    actions: [
      { kind: 'deleteReplica', replica: 'r-c', reason: 'failed too long ago to be useful during a rebuild' },
    ],
  },
  {
    name: 'a salvaged replica not yet RW again is not safe as the last copy',
    volume: volume(),
    engine: engine(),
    replicas: [replica('a', { lastFailedAt: ago(1), lastHealthyAt: ago(60) }), failed('b', 120)],
    actions: [],
  },
  {
    name: 'an unscheduled replica goes once enough are healthy',
    volume: attachedVolume(),
    engine: runningEngine(allRW),
    replicas: [running('a'), running('b'), running('c'), fresh('', { name: 'r-x', diskID: '' })],
    actions: [{ kind: 'deleteReplica', replica: 'r-x', reason: 'failed to schedule and no longer needed' }],
  },
  {
    name: 'an unscheduled replica stays while it is needed',
    volume: attachedVolume(),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), fresh('', { name: 'r-x', diskID: '' })],
    status: { robustness: 'degraded', lastDegradedAt: NOW_ISO },
    actions: [],
    events: ['Degraded'],
  },
  {
    name: 'an unscheduled pinned replica goes when data locality is off',
    volume: attachedVolume(),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
    replicas: [running('a'), running('b'), fresh('', { name: 'r-x', diskID: '', hardNodeAffinity: 'c' })],
    status: { robustness: 'degraded' },
    actions: [{ kind: 'deleteReplica', replica: 'r-x', reason: 'failed to schedule and no longer needed' }],
    events: ['Degraded'],
  },
  {
    name: 'a detached volume gives up a replica that never got placed',
    volume: volume(),
    engine: engine(),
    replicas: [replica('a'), replica('b'), fresh('', { name: 'r-x', diskID: '' })],
    actions: [
      {
        kind: 'markReplicaFailed',
        replica: 'r-x',
        at: NOW_ISO,
        reason: 'it was being rebuilt when the volume detached',
        unusable: true,
      },
    ],
  },
  {
    name: 'an extra healthy replica being evicted goes',
    volume: volume(),
    engine: engine(),
    replicas: [replica('a'), replica('b', { evictionRequested: true }), replica('c'), replica('d')],
    actions: [
      {
        kind: 'deleteReplica',
        replica: 'r-b',
        reason: 'eviction requested and enough healthy replicas remain',
      },
    ],
  },
  {
    name: 'best-effort locality: a replica is made next to the engine',
    volume: attachedVolume({ spec: { dataLocality: 'best-effort' } }),
    engine: runningEngine({ 'r-b': 'RW', 'r-c': 'RW', 'r-d': 'RW' }),
    replicas: [running('b'), running('c'), running('d')],
    status: { robustness: 'healthy' },
    actions: [{ kind: 'createReplica', hardNodeAffinity: 'a', rebuild: true }],
  },
  {
    name: 'best-effort locality: once the local one is healthy a remote one goes',
    volume: attachedVolume({ spec: { dataLocality: 'best-effort' } }),
    engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW', 'r-c': 'RW', 'r-d': 'RW' }),
    replicas: [running('a'), running('b'), running('c'), running('d')],
    status: { robustness: 'healthy' },
    actions: [
      {
        kind: 'deleteReplica',
        replica: 'r-b',
        reason: 'a local replica is healthy (best-effort data locality)',
      },
      { kind: 'removeReplicaFromEngine', replica: 'r-b' },
    ],
  },

  // --- auto-salvage ---
  {
    name: 'every replica in ERR: faulted, salvage requested',
    volume: attachedVolume(),
    engine: runningEngine({ 'r-a': 'ERR', 'r-b': 'ERR' }),
    replicas: [running('a'), running('b')],
    status: { state: 'attached', robustness: 'faulted' },
    actions: [
      { kind: 'markReplicaFailed', replica: 'r-a', at: NOW_ISO, reason: 'the engine set the replica to ERR' },
      { kind: 'stopReplica', replica: 'r-a' },
      { kind: 'markReplicaFailed', replica: 'r-b', at: NOW_ISO, reason: 'the engine set the replica to ERR' },
      { kind: 'stopReplica', replica: 'r-b' },
      { kind: 'requestSalvage' },
    ],
    events: ['FailedAttachment'],
    requeueAfterMs: 5000,
  },
  {
    name: 'faulted and detached: replicas that failed together are salvaged',
    volume: volume({ status: { robustness: 'faulted' } }),
    engine: engine({ salvageRequested: true }),
    replicas: [failed('a', 2), failed('b', 2.5), failed('c', 3.5)],
    status: {
      state: 'detached',
      robustness: 'unknown',
      lastAutoSalvagedAt: NOW_ISO,
      remountRequestedAt: NOW_ISO,
    },
    actions: [
      { kind: 'salvageReplica', replica: 'r-a' },
      { kind: 'salvageReplica', replica: 'r-b' },
    ],
    events: ['AutoSalvaged', 'AutoSalvaged', 'Remount'],
  },
  {
    name: 'salvage skips replicas on down nodes and unschedulable disks',
    volume: volume({ status: { robustness: 'faulted' } }),
    engine: engine({ salvageRequested: true }),
    replicas: [
      failed('a', 2, { nodeDown: true }),
      failed('b', 2, { diskSchedulable: false }),
      failed('c', 2.5),
    ],
    status: { robustness: 'unknown', lastAutoSalvagedAt: NOW_ISO },
    actions: [{ kind: 'salvageReplica', replica: 'r-c' }],
    events: ['AutoSalvaged', 'Remount'],
  },
  {
    name: 'salvage with auto-salvage off: faulted stays',
    volume: volume({ status: { robustness: 'faulted' } }),
    engine: engine(),
    replicas: [failed('a', 2), failed('b', 2)],
    settings: { autoSalvage: false },
    status: { state: 'detached', robustness: 'faulted' },
    actions: [],
  },
  {
    name: 'salvage without data: nothing to bring back',
    volume: volume({ status: { robustness: 'faulted' } }),
    engine: engine({ salvageRequested: true }),
    replicas: [
      failed('a', 2, { healthyAt: '', lastHealthyAt: '' }),
      failed('b', 2, { healthyAt: '', lastHealthyAt: '' }),
    ],
    status: { robustness: 'faulted' },
    actions: [],
    events: ['AutoSalvageFailed'],
    requeueAfterMs: 28 * 60_000 + 1000,
  },
  {
    name: 'faulted and detached with a usable replica again: unknown, remount',
    volume: volume({ status: { robustness: 'faulted' } }),
    engine: engine(),
    replicas: [replica('a'), failed('b', 2)],
    status: { robustness: 'unknown', remountRequestedAt: NOW_ISO },
    actions: [],
    events: ['Remount'],
    requeueAfterMs: 28 * 60_000 + 1000,
  },
  {
    name: 'the engine dies under an attached volume: faulted',
    volume: attachedVolume(),
    engine: runningEngine(allRW, { currentState: 'error' }),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'attached', robustness: 'faulted' },
    actions: [],
    events: ['DetachedUnexpectedly'],
  },
  {
    name: 'an executed salvage request is cleared',
    volume: attachedVolume(),
    engine: runningEngine(allRW, { salvageRequested: true, salvageExecuted: true }),
    replicas: [running('a'), running('b'), running('c')],
    status: { robustness: 'healthy' },
    actions: [{ kind: 'clearSalvageRequest' }],
  },

  // --- deletion ---
  {
    name: 'deleting: stop the engine',
    volume: attachedVolume({ deleting: true }),
    engine: runningEngine(allRW),
    replicas: [running('a'), running('b'), running('c')],
    status: { state: 'deleting' },
    actions: [{ kind: 'stopEngine' }],
  },
  {
    name: 'deleting: delete the stopped engine',
    volume: volume({ deleting: true }),
    engine: engine(),
    replicas: [replica('a')],
    status: { state: 'deleting' },
    actions: [{ kind: 'deleteEngine' }],
  },
  {
    name: 'deleting: then the replicas',
    volume: volume({ deleting: true }),
    replicas: [replica('a'), replica('b', { deleting: true })],
    status: { state: 'deleting' },
    actions: [{ kind: 'deleteReplica', replica: 'r-a', reason: 'the volume is being deleted' }],
  },
  {
    name: 'deleting: nothing left, the finalizer goes',
    volume: volume({ deleting: true }),
    replicas: [],
    status: { state: 'deleting' },
    actions: [{ kind: 'removeFinalizer' }],
  },
];

describe('next', () => {
  it.each(rows)('$name', (row) => {
    const result = next(row.volume, {
      now: NOW,
      engine: row.engine,
      replicas: row.replicas,
      settings: { ...DEFAULT_VOLUME_SETTINGS, ...row.settings },
      rebuildsPerNode: row.rebuildsPerNode,
    });
    expect(result.actions).toEqual(row.actions);
    if (row.status !== undefined) expect(result.status).toMatchObject(row.status);
    expect(result.events.map((e) => e.reason)).toEqual(row.events ?? []);
    expect(result.requeueAfterMs).toBe(row.requeueAfterMs);
  });

  it('never sets currentNodeID before the engine serves on that node', () => {
    // Walk an attach through every intermediate observation; currentNodeID appears only at the end.
    const v = volume({ spec: { nodeID: 'a' } });
    const steps: Array<[EngineView, ReplicaView[]]> = [
      [engine(), [replica('a'), replica('b')]],
      [engine(), [running('a'), replica('b', { currentState: 'starting' })]],
      [
        engine({ nodeID: 'a', desireState: 'running', currentState: 'starting' }),
        [running('a'), running('b')],
      ],
      [runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }, { endpoint: '' }), [running('a'), running('b')]],
      [runningEngine({ 'r-a': 'WO', 'r-b': 'ERR' }), [running('a'), running('b')]],
    ];
    let status = v.status;
    for (const [e, rs] of steps) {
      const out = next(
        { ...v, status },
        { now: NOW, engine: e, replicas: rs, settings: DEFAULT_VOLUME_SETTINGS },
      );
      expect(out.status.currentNodeID).toBe('');
      status = { ...status, ...out.status };
    }
  });

  it('is deterministic whatever the order of the replicas', () => {
    const v = attachedVolume({ status: { robustness: 'degraded', lastDegradedAt: ago(1) } });
    const rs = [failed('c', 1), running('b'), running('a')];
    const o = {
      now: NOW,
      engine: runningEngine({ 'r-a': 'RW', 'r-b': 'RW' }),
      settings: DEFAULT_VOLUME_SETTINGS,
    };
    expect(next(v, { ...o, replicas: rs })).toEqual(next(v, { ...o, replicas: [...rs].reverse() }));
  });
});
