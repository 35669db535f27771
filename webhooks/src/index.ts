/** Admission webhooks for longhorn.io resources (control plane: webhooks). */
export {};
