/** API group and version shared by every CRD, as Longhorn has them. */
export const API_GROUP = 'longhorn.io';
export const API_VERSION = 'v1beta2';
export const NAMESPACE = 'longhorn-system';
