import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { revertRefusal } from '../src/kube/revert-check.js';
import { parseLabels, snapshotName, snapshotObject } from '../src/kube/snapshot-spec.js';
import { addTicketPatch, otherTickets, pluginTicket, removeTicketPatch } from '../src/kube/tickets.js';
import { volumeFromFlags } from '../src/kube/volume-spec.js';
import { tarArchive, tarGz } from '../src/output/tar.js';
import { attachment, volume } from './fixtures.js';

describe('volume create flags', () => {
  it('builds a Longhorn Volume, size rounded up to 2 MiB, frontend blockdev by default', () => {
    expect(
      volumeFromFlags({
        name: 'vol-1',
        namespace: 'longhorn-system',
        size: '1G',
        replicas: 2,
        dataLocality: 'best-effort',
        accessMode: 'rwo',
        nodeSelector: ['storage'],
        diskSelector: [],
      }),
    ).toEqual({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name: 'vol-1', namespace: 'longhorn-system' },
      spec: {
        size: '1000341504',
        numberOfReplicas: 2,
        dataLocality: 'best-effort',
        accessMode: 'rwo',
        frontend: 'blockdev',
        nodeSelector: ['storage'],
      },
    });
  });

  it.each([
    [{ name: 'Vol_1', size: '1Gi' }, 'volume name "Vol_1" must be lower-case'],
    [{ name: 'v', size: 'big' }, 'size "big" is not a size'],
    [{ name: 'v', size: '1Gi', replicas: 21 }, '--replicas 21 is out of range; use 1 to 20'],
    [
      { name: 'v', size: '1Gi', dataLocality: 'near' },
      '--data-locality "near" is not one of disabled, best-effort, strict-local',
    ],
    [{ name: 'v', size: '1Gi', accessMode: 'rw' }, '--access-mode "rw" is not one of rwo, rwop, rwx'],
  ])('refuses %j', (input, message) => {
    expect(() => volumeFromFlags({ namespace: 'ns', ...input })).toThrow(message);
  });
});

describe('attachment tickets of the plugin', () => {
  it('uses the longhorn-api type and id, and merge patches that add and remove only it', () => {
    const t = pluginTicket('vol', 'node-1', true);
    expect(t).toEqual({
      id: 'longhorn-api-vol',
      type: 'longhorn-api',
      nodeID: 'node-1',
      parameters: { disableFrontend: 'true' },
    });
    expect(addTicketPatch(t)).toEqual({ spec: { attachmentTickets: { 'longhorn-api-vol': t } } });
    expect(removeTicketPatch('vol')).toEqual({ spec: { attachmentTickets: { 'longhorn-api-vol': null } } });
  });

  it('names the other requesters', () => {
    const va = attachment(
      {
        'longhorn-api-vol': { id: 'longhorn-api-vol', type: 'longhorn-api', nodeID: 'node-1' },
        'csi-abc': { id: 'csi-abc', type: 'csi-attacher', nodeID: 'node-2' },
      },
      {},
    );
    expect(otherTickets(va, 'vol')).toEqual(['csi-attacher@node-2']);
    expect(otherTickets(undefined, 'vol')).toEqual([]);
  });
});

describe('snapshots', () => {
  it('names snapshots by volume and time, and builds the CR with the volume label', () => {
    expect(snapshotName('vol', Date.parse('2026-01-02T03:04:05Z'), () => 0.5)).toBe(
      'vol-20260102030405-8000',
    );
    expect(snapshotObject('s', 'vol', 'ns', { a: 'b' })).toEqual({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Snapshot',
      metadata: { name: 's', namespace: 'ns', labels: { longhornvolume: 'vol' } },
      spec: { volume: 'vol', createSnapshot: true, labels: { a: 'b' } },
    });
    expect(parseLabels(['a=b', 'c=d=e'])).toEqual({ a: 'b', c: 'd=e' });
    expect(parseLabels(['nope'])).toBe('nope');
  });

  it('refuses a revert while attached with a frontend, faulted or on its way; detached and maintenance mode go', () => {
    expect(revertRefusal(volume('vol'), 's1')).toBe(
      'volume vol is attached to node-1 with its frontend: a revert would change data under its users. ' +
        'Stop the workload, detach it (kubectl longhorn volume detach vol) and revert to s1 again: ' +
        'the plugin then attaches it in maintenance mode (--no-frontend) for the revert',
    );
    expect(revertRefusal(volume('vol', { state: 'detached', currentNodeID: '' }), 's1')).toBeUndefined();
    expect(revertRefusal(volume('vol', { frontendDisabled: true }), 's1')).toBeUndefined();
    expect(revertRefusal(volume('vol', { state: 'attaching' }), 's1')).toBe(
      'volume vol is attaching: revert once it is detached (or attached with --no-frontend)',
    );
    expect(revertRefusal(volume('vol', { state: 'detached', robustness: 'faulted' }), 's1')).toBe(
      'volume vol is faulted: salvage it first (kubectl longhorn volume salvage vol)',
    );
  });
});

describe('tar writer', () => {
  it('writes archives that tar lists and extracts byte for byte, long names included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-tar-'));
    try {
      const long = `bundle/${'deep/'.repeat(30)}file.log`;
      const binary = Buffer.from(Array.from({ length: 1500 }, (_, i) => i % 256));
      const file = join(dir, 'b.tar.gz');
      writeFileSync(
        file,
        tarGz([
          { path: 'bundle/README.txt', data: 'hello\n' },
          { path: 'bundle/bin.dat', data: binary },
          { path: long, data: 'x'.repeat(513) },
        ]),
      );
      const listed = execFileSync('tar', ['tzf', file], { encoding: 'utf8' }).trim().split('\n');
      expect(listed).toEqual(['bundle/README.txt', 'bundle/bin.dat', long]);
      execFileSync('tar', ['xzf', file, '-C', dir]);
      expect(readFileSync(join(dir, 'bundle/README.txt'), 'utf8')).toBe('hello\n');
      expect(readFileSync(join(dir, 'bundle/bin.dat')).equals(binary)).toBe(true);
      expect(readFileSync(join(dir, long), 'utf8')).toBe('x'.repeat(513));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pads to 512-byte blocks and ends with two zero blocks', () => {
    const t = tarArchive([{ path: 'a', data: 'x' }]);
    expect(t.length).toBe(512 * 4);
    expect(t.subarray(512 * 2).every((b) => b === 0)).toBe(true);
  });
});
