import { fileURLToPath } from 'node:url';
import type { ManagedProcess } from './managed-process.js';
import { logOffset, waitForReadyLine } from './ready-line.js';
import type { SimulatedNode } from './simulated-node.js';

/** The stand-in's entry, compiled (the same path from test/src/harness and test/dist/harness). */
export const KUBELET_STANDIN_ENTRY = fileURLToPath(
  new URL('../../../test/dist/harness/kubelet-standin-main.js', import.meta.url),
);

/**
 * The kubelet stand-in of a simulated node (one of the node's processes: killing the node kills
 * it): it mounts the volumes of the pods bound to the node through the node's CSI plugin.
 */
export async function startKubeletStandin(node: SimulatedNode, timeoutMs = 60_000): Promise<ManagedProcess> {
  const logFile = node.logFile('kubelet-standin');
  const offset = await logOffset(logFile);
  const proc = await node.start({
    name: 'kubelet-standin',
    command: process.execPath,
    args: [KUBELET_STANDIN_ENTRY, '--node', node.name, '--kubelet-dir', node.dataDir],
  });
  await waitForReadyLine(`${node.name}'s kubelet stand-in`, proc, ['kubeletStandin', 'pid'], {
    offset,
    timeoutMs,
  });
  return proc;
}

/** A node's kubelet stand-in process, if it runs. */
export function kubeletStandinOf(node: SimulatedNode): ManagedProcess | undefined {
  return node.processes.find((p) => p.name === `${node.name}/kubelet-standin` && p.running);
}
