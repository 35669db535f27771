/** The controller runtime's clock is the shared one (kube-runtime): production and ManualClock. */
export { type Clock, ManualClock, systemClock, type Timer } from '@longhorn-ts/kube-runtime';
