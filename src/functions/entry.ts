/**
 * `gearshift/functions`: what a functions module needs, without the client, the pool or the worker. Every worker thread
 * loads the functions module, and a module that imports `gearshift` makes each thread load the client,
 * the pool and the worker's code too (155 KB it never runs). Importing `defineFunctions` from here
 * instead keeps a thread's start to the code it uses. The objects are the very ones `gearshift` exports:
 * a `FunctionSet` or an error class is the same whichever entry it came from (a test holds the two lists
 * to that).
 *
 * `gearshift`'s index names these again rather than `export *` from here: re-exported, this module
 * becomes a file of its own in the bundle that every process loads, and files cost a process more than
 * their size (BENCHMARKS.md, 2026-12-07).
 */
export {
  ClientClosedError,
  FunctionsModuleError,
  GearmanConnectionError,
  GearmanProtocolError,
  GearmanServerError,
  GearshiftError,
  type GearshiftErrorCode,
  InvalidOptionError,
  JobAbortedError,
  JobCancelledError,
  JobFailedError,
  JobTimeoutError,
  PayloadError,
  QueueFileError,
  UnknownFunctionError,
  UnsupportedError,
  WorkerCrashedError,
} from '../errors.js';
export type { Jsonified, JsonResult, JsonValue } from '../payload/jsonified.js';
export {
  type BytesFunctionSpec,
  type BytesHandler,
  defineFunctions,
  type FunctionEntry,
  type FunctionMap,
  FunctionSet,
  type JobContext,
  type JsonFunctionSpec,
  type JsonHandler,
} from './define.js';
export type { ChildCompleted, ChildFailed, FlowOutcome } from './flow-outcome.js';
export type { FunctionLimit, RateLimit } from './limit.js';
export type { AnyFunctionSet, BytesInput, FunctionName, InputOf, ResultOf } from './types.js';
