/** The CSI driver driver.longhorn.io (control plane II). */
export {};
