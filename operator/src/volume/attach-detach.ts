/**
 * The attach/detach state machine (Longhorn's reconcileAttachDetachStateMachine), driven by
 * spec.nodeID (what ticket arbitration wants) against status.currentNodeID (where the volume
 * verifiably is):
 *
 *   creating -> detached -> attaching -> attached -> detaching -> detached
 *
 * Opening starts the replicas, waits until every replica that may hold data runs, then starts
 * the engine on the wanted node with them. currentNodeID is set only when the engine runs
 * there, serves its frontend, and reports a replica RW. Closing stops the engine first (a
 * replica stopped under a running engine would fail), then the replicas; currentNodeID is
 * cleared only once all of them have stopped.
 */

import { rebuildingCount } from './replenishment.js';
import type { ReplicaView } from './volume-model.js';
import type { VolumePass } from './volume-pass.js';

export function reconcileAttachDetach(pass: VolumePass): void {
  const { status } = pass;
  const want = pass.volume.spec.nodeID;
  const at = status.currentNodeID;

  const closeAndSettle = (clearNode: boolean) => {
    close(pass);
    if (isClosed(pass)) {
      if (clearNode) status.currentNodeID = '';
      status.state = 'detached';
      pass.event('Normal', 'Detached', `volume ${pass.volume.name} has been detached`);
    } else {
      status.state = 'detaching';
    }
  };

  if (status.state === 'creating') {
    // Nothing was ever opened; wait until the new instances report stopped.
    closeAndSettle(true);
    return;
  }

  if (want === '' || (at !== '' && want !== at)) {
    // Leave the current node (or stay away from every node).
    if (status.state === 'detached' && at === '') {
      close(pass);
      return;
    }
    if (status.state === 'detaching') closeAndSettle(true);
    else {
      close(pass);
      status.state = 'detaching';
    }
    return;
  }

  if (at === '') {
    switch (status.state) {
      case 'attached':
        close(pass);
        status.state = 'detaching';
        return;
      case 'detaching':
        closeAndSettle(false);
        return;
      case 'detached':
        open(pass);
        status.state = 'attaching';
        return;
      case 'attaching':
        open(pass);
        if (isOpen(pass)) {
          status.currentNodeID = want;
          status.state = 'attached';
          pass.event('Normal', 'Attached', `volume ${pass.volume.name} has been attached to ${want}`);
        }
        return;
      default:
        return;
    }
  }

  // want === at
  if (status.state === 'attached') {
    // Stable; opening again adds replicas that came up since.
    open(pass);
    return;
  }
  if (status.state === 'detaching') closeAndSettle(true);
  else {
    close(pass);
    status.state = 'detaching';
  }
}

/** Every scheduled, unfailed replica that may hold data runs, so the engine can start with all of them. */
function open(pass: VolumePass): void {
  const { status } = pass;
  const node = pass.volume.spec.nodeID;
  for (const r of pass.replicas) {
    if (r.nodeID === '' || r.deleting) continue;
    if (!r.nodeDown) {
      if (r.failedAt === '' && r.currentState === 'stopped') pass.startReplica(r);
    } else if (status.state !== 'attached' && r.failedAt === '') {
      pass.markFailed(r, `the volume is not attached and node ${r.nodeID} is down`);
    }
  }

  const addresses: Record<string, string> = {};
  for (const r of pass.replicas) {
    if (r.nodeID === '' || r.deleting || r.failedAt !== '' || r.currentState === 'error') continue;
    if (r.currentState !== 'running') {
      // A new replica for a rebuild may start later; any other one may hold data: wait for it.
      if (status.state === 'attached' && r.healthyAt === '' && r.lastHealthyAt === '') continue;
      return;
    }
    if (r.address === '') continue;
    addresses[r.name] = r.address;
  }
  if (Object.keys(addresses).length === 0) {
    pass.event(
      'Warning',
      'FailedAttachment',
      `no healthy or scheduled replica for starting volume ${pass.volume.name}`,
    );
    pass.requeue(5_000);
    return;
  }

  const engine = pass.engine;
  if (engine === undefined) return;
  if (engine.desireState !== 'running' || engine.nodeID !== node) {
    if (engine.nodeID !== '' && engine.nodeID !== node && engine.currentState !== 'stopped') {
      // Still running elsewhere: the close of that attachment has to finish first.
      return;
    }
    engine.desireState = 'running';
    engine.nodeID = node;
    engine.replicaAddresses = addresses;
    pass.emit({
      kind: 'startEngine',
      nodeID: node,
      replicaAddresses: addresses,
      disableFrontend: status.frontendDisabled,
    });
    return;
  }
  syncEngineReplicas(pass, addresses);
}

/**
 * Bring the engine's replica list to `addresses`: drop the ones that failed or went away; add
 * new ones, which a running engine rebuilds, one per volume at a time and within the per-node
 * rebuild limit.
 */
function syncEngineReplicas(pass: VolumePass, addresses: Record<string, string>): void {
  const engine = pass.engine!;
  for (const name of Object.keys(engine.replicaAddresses).sort()) {
    if (addresses[name] === undefined) {
      const { [name]: _gone, ...rest } = engine.replicaAddresses;
      engine.replicaAddresses = rest;
      pass.emit({ kind: 'removeReplicaFromEngine', replica: name });
    }
  }
  const toAdd = Object.keys(addresses)
    .sort()
    .filter((name) => engine.replicaAddresses[name] === undefined);
  if (toAdd.length === 0) return;
  if (engine.currentState !== 'running') {
    // Not serving yet: the engine takes them all as it starts.
    for (const name of toAdd) addReplica(pass, name, addresses[name]!);
    return;
  }
  if (rebuildingCount(engine) > 0) return;
  const limit = pass.observed.settings.concurrentReplicaRebuildPerNodeLimit;
  const byName = new Map(pass.replicas.map((r) => [r.name, r]));
  const next = toAdd.find((name) => {
    const r = byName.get(name) as ReplicaView;
    return (pass.observed.rebuildsPerNode?.[r.nodeID] ?? 0) < limit;
  });
  if (next === undefined) {
    pass.requeue(5_000);
    return;
  }
  addReplica(pass, next, addresses[next]!);
}

function addReplica(pass: VolumePass, name: string, address: string): void {
  const engine = pass.engine!;
  engine.replicaAddresses = { ...engine.replicaAddresses, [name]: address };
  pass.emit({ kind: 'addReplicaToEngine', replica: name, address });
}

/** The engine runs on the wanted node, serves its frontend, and has a replica RW. */
function isOpen(pass: VolumePass): boolean {
  const engine = pass.engine;
  if (engine === undefined || engine.currentState !== 'running') return false;
  if (engine.nodeID !== pass.volume.spec.nodeID) return false;
  if (!pass.status.frontendDisabled && engine.endpoint === '') return false;
  const modes = engine.replicaModes ?? {};
  return pass.replicas.some(
    (r) => r.failedAt === '' && r.currentState === 'running' && modes[r.name] === 'RW',
  );
}

function close(pass: VolumePass): void {
  const { status } = pass;
  if (status.robustness !== 'faulted') status.robustness = 'unknown';
  const engine = pass.engine;
  if (engine !== undefined && (engine.desireState !== 'stopped' || engine.nodeID !== '')) {
    engine.desireState = 'stopped';
    engine.nodeID = '';
    pass.emit({ kind: 'stopEngine' });
  }
  if (engine !== undefined && !instanceStopped(engine.currentState, engine.desireState, engine.nodeDown))
    return;

  // A replica that never became healthy while others hold data was being rebuilt: the rebuild
  // is lost with the engine.
  const dataExists = pass.replicas.some((r) => r.healthyAt !== '');
  for (const r of pass.replicas) {
    if (dataExists && r.healthyAt === '' && r.failedAt === '' && !r.deleting) {
      pass.markFailed(r, 'it was being rebuilt when the volume detached', r.nodeID === '' || r.diskID === '');
    }
  }
  for (const r of pass.replicas) pass.stopReplica(r);
}

/**
 * Stopped, or meant to be stopped on a node that is down: no process there can serve anyone
 * (the engine is stopped first, so a replica left on a cut-off node has no engine to write it).
 */
function instanceStopped(state: string, desire: string, nodeDown: boolean): boolean {
  return state === 'stopped' || (nodeDown && desire === 'stopped');
}

function isClosed(pass: VolumePass): boolean {
  const e = pass.engine;
  if (e !== undefined && !instanceStopped(e.currentState, e.desireState, e.nodeDown)) return false;
  return pass.replicas.every((r) => instanceStopped(r.currentState, r.desireState, r.nodeDown));
}
