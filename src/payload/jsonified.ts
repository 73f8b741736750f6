/**
 * Type-level JSON: what a value becomes after `JSON.stringify` then `JSON.parse`, which is what a caller
 * receives from a JSON function on every backend (a Gearman worker in PHP included).
 */

/** A value that survives JSON unchanged. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** Values JSON leaves out of objects and turns into null in arrays. */
type Dropped = undefined | symbol | ((...args: never[]) => unknown);

/**
 * What `T` becomes through JSON: `toJSON()` is applied (a `Date` becomes a string), properties that are
 * functions, symbols or undefined disappear, and array elements of those kinds become `null`. A BigInt
 * cannot be carried at all (`never`).
 */
export type Jsonified<T> = T extends { toJSON(...args: never[]): infer J }
  ? Jsonified<J>
  : T extends string | number | boolean | null
    ? T
    : T extends Dropped | bigint
      ? never
      : T extends readonly unknown[]
        ? { -readonly [K in keyof T]: JsonElement<T[K]> }
        : T extends object
          ? { -readonly [K in keyof T as [Jsonified<T[K]>] extends [never] ? never : K]: Jsonified<T[K]> }
          : never;

type JsonElement<E> = E extends Dropped ? null : Jsonified<E>;

/** A handler's result as the caller receives it: JSON semantics, with a result of `undefined` kept. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler typed `=> void` returns undefined to its caller.
export type JsonResult<T> = T extends undefined | void ? undefined : Jsonified<T>;
