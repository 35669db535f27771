export { CryptBlockDevice } from './crypt-device.js';
export { CryptError, type CryptErrorCode } from './crypt-error.js';
export {
  decodeSecretData,
  type KekSource,
  type KmsKekSource,
  PASSPHRASE_HASHES,
  PASSPHRASE_KDFS,
  type PassphraseHash,
  type PassphraseKdfName,
  parseCryptoSecret,
  type SecretKekSource,
} from './crypto-secret.js';
export { formatEnvelopeArg, loadDataKey, parseEnvelopeArg } from './envelope-arg.js';
export { removeKekFile, removeStaleKekFiles, writeKekFile } from './kek-handoff.js';
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
// The KMS provider and the key record load @aws-sdk/client-kms: import them by path
// (crypt/kms-kek, crypt/volume-key-record) so an engine process does not load the SDK.
export {
  checkPassphraseKdf,
  derivePassphraseKek,
  newPassphraseKdf,
  type PassphraseKdf,
} from './passphrase-kek.js';
export { CRYPT_BLOCK, XTS_KEY_BYTES, XtsCipher, type XtsImplementation } from './xts-cipher.js';
