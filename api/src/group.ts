/** API group and version shared by every CRD, as Longhorn has them. */
export const API_GROUP = 'longhorn.io';
export const API_VERSION = 'v1beta2';
/** Where Longhorn keeps every one of its objects. */
export const NAMESPACE = 'longhorn-system';
