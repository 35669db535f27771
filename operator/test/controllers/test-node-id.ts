import type { ControllerContext } from '../../src/controllers/context.js';

/** The identity of node `n1` of a hand-built ControllerContext, its data under `dataDir`. */
export function testNodeId(dataDir: string, namespace: string): ControllerContext['id'] {
  return { node: 'n1', ip: '127.0.0.1', zone: '', region: '', dataDir, namespace, instanceManager: '' };
}
