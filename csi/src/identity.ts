import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import type { ServiceSpec } from './rpc/edge.js';

export const VENDOR_VERSION = '0.1.0';

/** Identity: the driver's name, what it offers, and whether it is ready. */
export function identityService(options: {
  controller: boolean;
  ready: () => Promise<boolean>;
}): ServiceSpec {
  return {
    GetPluginInfo: {
      quiet: true,
      handler: async () => ({ name: CSI_DRIVER_NAME, vendorVersion: VENDOR_VERSION, manifest: {} }),
    },
    GetPluginCapabilities: {
      quiet: true,
      handler: async () => ({
        capabilities: [
          ...(options.controller ? [{ service: { type: 'CONTROLLER_SERVICE' } }] : []),
          // A staged volume grows too: lh-nbdfuse reconnects for the new size (node-service expand).
          { volumeExpansion: { type: 'ONLINE' } },
        ],
      }),
    },
    Probe: { quiet: true, handler: async () => ({ ready: { value: await options.ready() } }) },
  };
}
