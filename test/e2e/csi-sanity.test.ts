import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { binaryPath, hasBinary } from '../src/harness/binaries.js';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { loopDevicesUnder, mountsUnder } from '../src/harness/host-cleanup.js';
import { CSI_ENTRY, csiAvailable } from '../src/harness/longhorn-csi.js';
import type { ManagedProcess } from '../src/harness/managed-process.js';
import { logOffset, waitForReadyLine } from '../src/harness/ready-line.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1' || !hasBinary('csi-sanity') || !csiAvailable();

/**
 * Specs skipped on purpose, each with its reason (ginkgo --skip takes one regular expression).
 * Specs csi-sanity skips by itself (capabilities the driver does not claim) are reported with
 * csi-sanity's own reason.
 */
const SKIPPED: { spec: string; reason: string }[] = [];

describe.skipIf(skip)('csi-sanity against the real driver on a 3-node cluster', () => {
  let dir: string;
  let cluster: Cluster;
  let driver: ManagedProcess;
  let sanityDir: string;

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-csi-sanity-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-csi-sanity-'));
    cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 180_000 });
    // The driver in both modes as node-1's process: csi-sanity talks to one socket and stages
    // on this host, so node-1's Node service must be the one that attaches.
    sanityDir = join(dir, 'sanity');
    await mkdir(sanityDir, { recursive: true });
    const node = cluster.node('node-1');
    const offset = await logOffset(node.logFile('csi-sanity-driver'));
    driver = await node.start({
      name: 'csi-sanity-driver',
      command: process.execPath,
      args: [
        CSI_ENTRY,
        '--endpoint',
        `unix://${join(sanityDir, 'csi.sock')}`,
        '--node-id',
        'node-1',
        '--mode',
        'both',
        '--state-dir',
        join(node.dataDir, 'csi-sanity'),
      ],
    });
    await waitForReadyLine('the csi-sanity driver', driver, ['csi', 'pid'], { offset, timeoutMs: 30_000 });
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('passes csi-sanity (controller and node), every skip with a reason', async () => {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(60)}\n`);
    });
    const snapParams = join(sanityDir, 'snapshot-parameters.yaml');
    await writeFile(snapParams, 'type: snap\n');
    const junit = join(sanityDir, 'junit.xml');
    const args = [
      `--csi.endpoint=${join(sanityDir, 'csi.sock')}`,
      `--csi.mountdir=${join(sanityDir, 'mnt')}`,
      `--csi.stagingdir=${join(sanityDir, 'stage')}`,
      '--csi.testvolumesize=67108864',
      '--csi.testvolumeexpandsize=134217728',
      `--csi.testsnapshotparameters=${snapParams}`,
      `--ginkgo.junit-report=${junit}`,
      '--ginkgo.no-color',
      // An empty --ginkgo.skip would match (and skip) every spec.
      ...(SKIPPED.length > 0 ? [`--ginkgo.skip=${SKIPPED.map((s) => s.spec).join('|')}`] : []),
    ];
    const output = await new Promise<string>((resolve) => {
      execFile(
        binaryPath('csi-sanity'),
        args,
        { maxBuffer: 64 << 20, timeout: 600_000 },
        (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
      );
    });
    await writeFile(join(sanityDir, 'csi-sanity.out'), output);
    const summary =
      /Ran (\d+) of (\d+) Specs[^\n]*\n[^\n]*?(\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped/.exec(
        output,
      );
    expect(summary, output.slice(-4000)).not.toBeNull();
    const [, ran, total, passed, failed, pending, skipped] = summary!.map(Number);
    const xml = await readFile(junit, 'utf8');
    const reasons = new Map<string, number>();
    for (const m of xml.matchAll(/<skipped message="([^"]*)"/g)) {
      const reason = m[1]!.replace(/^skipped - /, '');
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    process.stdout.write(
      `[csi-sanity] Ran ${ran} of ${total} specs: ${passed} passed, ${failed} failed, ${pending} pending, ${skipped} skipped\n` +
        `${[...reasons].map(([r, n]) => `  skipped ${n}: ${r}`).join('\n')}\n` +
        `${SKIPPED.map((s) => `  skipped by us: "${s.spec}": ${s.reason}`).join('\n')}\n`,
    );
    const failures = [...output.matchAll(/^\s*\[FAIL\] (.*)$/gm)].map((m) => m[1]);
    expect(failures, output.slice(-6000)).toEqual([]);
    expect(failed).toBe(0);
    expect(passed).toBe(ran);
    // csi-sanity cleans up after every spec: nothing of it stays mounted or attached.
    expect(await mountsUnder(sanityDir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
  }, 700_000);
});
