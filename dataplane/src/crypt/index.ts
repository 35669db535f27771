export { CryptBlockDevice } from './crypt-device.js';
export { CryptError, type CryptErrorCode } from './crypt-error.js';
export { formatEnvelopeArg, loadDataKey, parseEnvelopeArg } from './envelope-arg.js';
export { KEK_BYTES, kekId, parseKek, readKekFile } from './kek-material.js';
export {
  checkEnvelope,
  type KeyEnvelope,
  newDataKey,
  rewrapDataKey,
  unwrapDataKey,
  VOLUME_CIPHERS,
  type VolumeCipher,
  wrapDataKey,
} from './key-envelope.js';
export { CRYPT_BLOCK, XTS_KEY_BYTES, XtsCipher, type XtsImplementation } from './xts-cipher.js';
