/**
 * Types derived from a {@link FunctionSet}: the names, inputs and results a client may use. They make a
 * wrong function name or a wrong input a compile error.
 */
import type { JsonResult } from '../payload/jsonified.js';
import type { BytesFunctionSpec, FunctionMap, FunctionSet, JsonFunctionSpec } from './define.js';

/** What a bytes function accepts from a caller: the bytes, or a string sent as UTF-8. */
export type BytesInput = Buffer | Uint8Array | string;

/** The declarations inside a {@link FunctionSet}. */
export type DefinitionsOf<S extends FunctionSet> = S extends FunctionSet<infer F> ? F : never;

/** The function names of a {@link FunctionSet}. */
export type FunctionName<S extends FunctionSet> = keyof DefinitionsOf<S> & string;

type EntryOf<S extends FunctionSet, K extends FunctionName<S>> = DefinitionsOf<S>[K];

type HandlerOf<E> = E extends (...args: never[]) => unknown
  ? E
  : E extends JsonFunctionSpec<infer H>
    ? H
    : never;

/** The input a function takes (anything, when the client was not given the functions' type). */
export type InputOf<S extends FunctionSet, K extends FunctionName<S>> =
  string extends FunctionName<S>
    ? unknown
    : EntryOf<S, K> extends BytesFunctionSpec
      ? BytesInput
      : HandlerOf<EntryOf<S, K>> extends (...args: infer P) => unknown
        ? P extends []
          ? undefined
          : P[0]
        : never;

/** The result a caller receives from a function: its handler's return value through JSON, or a Buffer. */
export type ResultOf<S extends FunctionSet, K extends FunctionName<S>> =
  string extends FunctionName<S>
    ? unknown
    : EntryOf<S, K> extends BytesFunctionSpec
      ? Buffer
      : HandlerOf<EntryOf<S, K>> extends (...args: never[]) => infer R
        ? JsonResult<Awaited<R>>
        : never;

/** Any function set, used where the functions are not known at compile time. */
export type AnyFunctionSet = FunctionSet<FunctionMap>;
