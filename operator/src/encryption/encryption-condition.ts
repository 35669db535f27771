/**
 * An encrypted Volume's `EncryptionKey` condition, read from its Engine: False with the reason
 * and message (which Secret, which key) while its last start found no usable key, True once the
 * engine runs with its key, the message naming the keys the Engine's note says it was given
 * (engine-keys-note.ts; empty without one); unchanged otherwise (a detached volume keeps the
 * last verdict).
 */
import { ENCRYPTION_KEY_CONDITION } from '@longhorn-ts/api';
import { type Condition, setCondition } from '../conditions.js';
import { type EngineKeyIds, engineKeysMessage } from './engine-keys-note.js';

export { ENCRYPTION_KEY_CONDITION };
/** The Engine's InstanceCreation reason when its start found no usable key (engine-controller.ts). */
export const ENCRYPTION_KEY_UNAVAILABLE = 'EncryptionKeyUnavailable';

interface EngineFacts {
  currentState?: string;
  conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
}

export function encryptionKeyCondition(
  conditions: readonly Condition[],
  engine: EngineFacts | undefined,
  now: string,
  keys?: EngineKeyIds,
): Condition[] {
  const failed = engine?.conditions?.find(
    (c) => c.type === 'InstanceCreation' && c.status === 'False' && c.reason === ENCRYPTION_KEY_UNAVAILABLE,
  );
  if (engine?.currentState === 'error' && failed)
    return setCondition(
      conditions,
      ENCRYPTION_KEY_CONDITION,
      'False',
      ENCRYPTION_KEY_UNAVAILABLE,
      failed.message ?? '',
      now,
    );
  if (engine?.currentState === 'running')
    return setCondition(
      conditions,
      ENCRYPTION_KEY_CONDITION,
      'True',
      '',
      keys ? engineKeysMessage(keys) : '',
      now,
    );
  return [...conditions];
}
