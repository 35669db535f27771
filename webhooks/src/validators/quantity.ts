/** Kubernetes resource quantities (`10Gi`, `1.5G`, `2e9`) as whole bytes, rounded up. */

const SUFFIXES: Record<string, bigint> = {
  '': 1n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
  k: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  P: 1000n ** 5n,
  E: 1000n ** 6n,
};

const QUANTITY = /^\+?([0-9]+)(?:\.([0-9]*))?(?:([eE][-+]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m))?$/;

/** Bytes of a quantity, rounded up to a whole byte; undefined when it is not a quantity. */
export function quantityBytes(quantity: unknown): bigint | undefined {
  if (typeof quantity === 'number')
    return Number.isFinite(quantity) ? BigInt(Math.ceil(quantity)) : undefined;
  if (typeof quantity !== 'string') return undefined;
  const match = QUANTITY.exec(quantity.trim());
  if (!match) return undefined;
  const [, whole = '0', fraction = '', exponent, suffix = ''] = match;
  let numerator = BigInt(whole + fraction);
  let denominator = 10n ** BigInt(fraction.length);
  if (exponent !== undefined) {
    const e = Number(exponent.slice(1));
    if (Math.abs(e) > 30) return undefined;
    if (e >= 0) numerator *= 10n ** BigInt(e);
    else denominator *= 10n ** BigInt(-e);
  } else if (suffix === 'm') {
    denominator *= 1000n;
  } else {
    numerator *= SUFFIXES[suffix] ?? 1n;
  }
  return (numerator + denominator - 1n) / denominator;
}
