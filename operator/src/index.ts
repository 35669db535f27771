/** The operator's public face: controllers, scheduler and metrics (filled in by control plane I). */
export {};
