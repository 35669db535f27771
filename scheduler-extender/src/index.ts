/** kube-scheduler extender for longhorn-ts volumes: data locality and zone spread. */
export * from './cluster-view.js';
export * from './extender.js';
export * from './extender-api.js';
export * from './informer-view.js';
export * from './pod-context.js';
export * from './pod-volumes.js';
export * from './predicates.js';
export * from './scheduler-configuration.js';
export * from './scorers.js';
export * from './server.js';
export * from './workload.js';
