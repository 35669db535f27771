/** kube-scheduler extender for longhorn-ts volumes (control plane: extender). */
export {};
