/** The CSI driver driver.longhorn.io (control plane II). */
export { CsiCallError, CsiClient } from './client.js';
export {
  CONTROLLER_CAPABILITIES,
  controllerService,
  PARAMETERS_ANNOTATION,
} from './controller/controller-service.js';
export { KNOWN_PARAMETERS, parseParameters } from './controller/parameters.js';
export { roundUp, SIZE_ALIGNMENT, sizeFor } from './controller/sizes.js';
export { objectName, parseSnapshotId, snapshotId } from './controller/snapshot-ids.js';
export { csiDriverObject } from './csi-driver-object.js';
export { CSI_ERROR_CODES, CsiError, type CsiErrorCode, GRPC_STATUS } from './errors.js';
export { CSI_PROTO, csiServices } from './rpc/proto.js';
export { type DriverMode, type DriverOptions, socketPath, startDriver } from './server.js';
