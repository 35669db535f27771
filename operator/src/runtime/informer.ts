/** The operator's informers are the shared restarting ones (kube-runtime). */
export {
  type CachingInformer,
  type CustomResourceType,
  customObjectInformer,
  ResilientInformer,
  type ResilientInformerOptions,
} from '@longhorn-ts/kube-runtime';
