/** The controller runtime's back-off is the shared one (kube-runtime). */
export { ExponentialBackoff } from '@longhorn-ts/kube-runtime';
