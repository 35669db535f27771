/** The CSI driver name, as Longhorn registers it, so existing StorageClasses and PVs keep working. */
export const CSI_DRIVER_NAME = 'driver.longhorn.io';
