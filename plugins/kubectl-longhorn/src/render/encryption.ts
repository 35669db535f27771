/**
 * What `volume get` says about a volume's encryption (pure): `Encrypted: no`, or for an encrypted
 * volume its crypto Secret (found as the operator finds it), the EncryptionKey condition: the
 * keys its engine runs with (the message once True) or why it could not get them, the KEK rotation schedule and last answer, and the data-key
 * rotation under way (its condition's message) or its last answer. Only Secret names and key ids
 * are ever shown: the Volume holds nothing else.
 */
import {
  cryptoSecretRef,
  DATA_KEY_ROTATION_CONDITION,
  DATA_KEY_ROTATION_RESULT_ANNOTATION,
  ENCRYPTION_KEY_CONDITION,
  KEK_ROTATION_INTERVAL_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION,
  type PvSecretRefs,
  parseRotationAnswer,
  pendingDataKeyRotation,
  pendingRotation,
  type RotationAnswer,
  type Volume,
} from '@longhorn-ts/api';
import { parseGoDuration } from '../kube/backup-target-spec.js';
import { formatAge } from '../output/format.js';

/** The volume's crypto Secret as `NS/NAME (named by ...)`, or `none: why`. */
export function cryptoSecretOf(v: Volume, pv: PvSecretRefs | undefined): string {
  const ref = cryptoSecretRef({ name: v.metadata.name, annotations: v.metadata.annotations }, pv);
  if ('problem' in ref) return `none: ${ref.problem}`;
  return `${ref.namespace}/${ref.name} (named by ${ref.from})`;
}

/** The interval annotation as the operator reads it (a Go duration of at least 1 s). */
export function kekScheduleOf(v: Volume): string {
  const text = v.metadata.annotations?.[KEK_ROTATION_INTERVAL_ANNOTATION]?.trim();
  if (!text) return `on request only (no ${KEK_ROTATION_INTERVAL_ANNOTATION})`;
  const seconds = parseGoDuration(text);
  if (seconds === undefined)
    return `none: ${KEK_ROTATION_INTERVAL_ANNOTATION} "${text}" is not a Go duration`;
  if (seconds < 1) return `none: ${KEK_ROTATION_INTERVAL_ANNOTATION} "${text}" is shorter than 1 s`;
  return `every ${text}`;
}

/** One answer: `kek-a -> kek-b 5m ago`, or `failed 5m ago: why`. */
function answerText(a: RotationAnswer, now: number): string {
  const when = a.doneAt ? ` ${formatAge(a.doneAt, now)} ago` : '';
  if (a.error) return `failed${when}: ${a.error}`;
  return `${a.from || '?'} -> ${a.to || '?'}${when}`;
}

function newest(answers: readonly (RotationAnswer & { how: string })[]) {
  const at = (a: RotationAnswer) => {
    const t = Date.parse(a.doneAt);
    return Number.isNaN(t) ? 0 : t;
  };
  return [...answers].sort((a, b) => at(b) - at(a))[0];
}

/** The pending on-demand request, else the newer of the on-demand and scheduled answers. */
export function lastKekRotationOf(v: Volume, now: number): string {
  const annotations = v.metadata.annotations;
  const pending = pendingRotation(annotations);
  if (pending !== undefined) return `requested (${pending}), waiting for the operator`;
  const answers = [
    { key: KEK_ROTATION_RESULT_ANNOTATION, how: 'on request' },
    { key: KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION, how: 'scheduled' },
  ].flatMap(({ key, how }) => {
    const a = parseRotationAnswer(annotations?.[key]);
    return a === undefined ? [] : [{ ...a, how }];
  });
  const last = newest(answers);
  return last === undefined ? 'none yet' : `${answerText(last, now)} (${last.how})`;
}

/** The rotation under way (the condition's message), a request not taken up yet, or the last answer. */
export function dataKeyRotationOf(v: Volume, now: number): string {
  const c = v.status?.conditions?.find((x) => x.type === DATA_KEY_ROTATION_CONDITION);
  if (c?.reason === 'InProgress' && c.message) return c.message;
  const pending = pendingDataKeyRotation(v.metadata.annotations);
  if (pending !== undefined) return `requested (${pending}), waiting for the operator`;
  const last = parseRotationAnswer(v.metadata.annotations?.[DATA_KEY_ROTATION_RESULT_ANNOTATION]);
  return last === undefined ? 'none yet' : `last ${answerText(last, now)}`;
}

/** `Encrypted: no`, or `yes` and what there is to know about the keys, indented under it. */
export function encryptionLines(v: Volume, pv: PvSecretRefs | undefined, now: number): string[] {
  if (v.spec.encrypted !== true) return ['Encrypted:       no'];
  const key = v.status?.conditions?.find((x) => x.type === ENCRYPTION_KEY_CONDITION);
  const row = (label: string, value: string) => `  ${`${label}:`.padEnd(21)}${value}`;
  return [
    'Encrypted:       yes',
    row('Crypto Secret', cryptoSecretOf(v, pv)),
    ...(key !== undefined && key.status !== 'True'
      ? [row('Key', `${key.reason || key.status}: ${key.message || 'no message'}`)]
      : []),
    ...(key?.status === 'True' && key.message ? [row('Keys', key.message)] : []),
    row('KEK rotation', kekScheduleOf(v)),
    row('Last KEK rotation', lastKekRotationOf(v, now)),
    row('Data-key rotation', dataKeyRotationOf(v, now)),
  ];
}
