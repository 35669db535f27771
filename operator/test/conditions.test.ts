import { describe, expect, it } from 'vitest';
import { getCondition, rfc3339, setCondition } from '../src/conditions.js';

describe('setCondition', () => {
  const t1 = '2024-05-01T00:00:00Z';
  const t2 = '2024-05-01T00:05:00Z';

  it.each([
    { name: 'adds a new type', before: [], status: 'True' as const, transition: t2 },
    {
      name: 'same status keeps the transition time',
      before: [
        { type: 'Scheduled', status: 'True' as const, reason: '', message: '', lastTransitionTime: t1 },
      ],
      status: 'True' as const,
      transition: t1,
    },
    {
      name: 'a new status moves the transition time',
      before: [
        { type: 'Scheduled', status: 'True' as const, reason: '', message: '', lastTransitionTime: t1 },
      ],
      status: 'False' as const,
      transition: t2,
    },
  ])('$name', ({ before, status, transition }) => {
    const after = setCondition(before, 'Scheduled', status, 'ReplicaSchedulingFailure', 'why', t2);
    expect(after).toEqual([
      {
        type: 'Scheduled',
        status,
        reason: 'ReplicaSchedulingFailure',
        message: 'why',
        lastTransitionTime: transition,
      },
    ]);
    expect(getCondition(after, 'Scheduled')?.status).toBe(status);
  });

  it('leaves other types and the input alone', () => {
    const before = [
      { type: 'Restore', status: 'False' as const, reason: '', message: '', lastTransitionTime: t1 },
    ];
    const after = setCondition(before, 'Scheduled', 'True', '', '', t2);
    expect(before).toHaveLength(1);
    expect(after.map((c) => c.type)).toEqual(['Restore', 'Scheduled']);
    expect(getCondition(undefined, 'Scheduled')).toBeUndefined();
  });
});

describe('rfc3339', () => {
  it.each([
    [Date.parse('2024-05-01T12:00:00.999Z'), '2024-05-01T12:00:00Z'],
    [0, '1970-01-01T00:00:00Z'],
  ])('%d -> %s', (ms, text) => {
    expect(rfc3339(ms)).toBe(text);
  });
});
