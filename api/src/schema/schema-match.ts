/**
 * Compile-time agreement between a hand-written interface and the schema the API server
 * enforces: the same keys at every level, the same optionality, the same value types. A field
 * added to one and not the other stops the build.
 */

type IsAny<T> = 0 extends 1 & T ? true : false;

type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;

type AllTrue<T> = [T] extends [true] ? true : false;

/** True when A and B describe the same shape, recursively. */
export type SameShape<A, B> =
  IsAny<A> extends true
    ? IsAny<B>
    : [A] extends [B]
      ? [B] extends [A]
        ? [A] extends [readonly (infer EA)[]]
          ? [B] extends [readonly (infer EB)[]]
            ? SameShape<EA, EB>
            : false
          : [A] extends [object]
            ? SameKeys<A, B> extends true
              ? AllTrue<
                  { [K in keyof A]-?: SameShape<NonNullable<A[K]>, NonNullable<B[K & keyof B]>> }[keyof A]
                >
              : false
            : true
        : false
      : false;

/** Compiles only when given `true`; used as `type _Check = Expect<SameShape<X, Infer<typeof s>>>`. */
export type Expect<T extends true> = T;
