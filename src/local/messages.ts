/**
 * The messages between the main thread and a worker thread of the local pool. Jobs travel in batches,
 * one piscina task per batch; what a batch reports comes back on the worker's parentPort, in order, so a
 * job's events can never overtake its result.
 */
import type { FunctionInfo } from '../backend.js';
import type { SerializedError } from '../payload/remote-error.js';

/** What a worker thread is started with. */
export interface ThreadData {
  /** The functions module, as a file URL. */
  readonly functionsModule: string;
  /** The BroadcastChannel on which the main thread sends aborts. */
  readonly abortChannel: string;
  /** The handle prefix: a job's handle is the prefix followed by its id. */
  readonly handlePrefix: string;
}

/** One job of a batch. */
export interface JobMessage {
  readonly id: number;
  readonly functionName: string;
  readonly input: unknown;
  readonly unique: string | undefined;
}

/** A piscina task: run these jobs one after another, or describe the functions. */
export type TaskMessage =
  | { readonly kind: 'batch'; readonly batch: number; readonly jobs: readonly JobMessage[] }
  | { readonly kind: 'manifest' };

/** What a manifest task answers: the functions, or why the module would not load. */
export type ManifestAnswer =
  | { readonly ok: true; readonly functions: readonly FunctionInfo[] }
  | { readonly ok: false; readonly error: SerializedError };

/** Why a job ended without a result. */
export type FailureOrigin = 'handler' | 'payload' | 'module' | 'unknown-function';

/** Reports from a worker thread, posted on its parentPort. */
export type ThreadReport =
  | { readonly t: 'begin'; readonly batch: number; readonly thread: number }
  | { readonly t: 'status'; readonly id: number; readonly numerator: number; readonly denominator: number }
  | { readonly t: 'data'; readonly id: number; readonly chunk: unknown }
  | { readonly t: 'warning'; readonly id: number; readonly message: string }
  | {
      readonly t: 'done';
      readonly id: number;
      readonly micros: number;
      readonly ok: true;
      readonly value: unknown;
    }
  | {
      readonly t: 'done';
      readonly id: number;
      readonly micros: number;
      readonly ok: false;
      readonly origin: FailureOrigin;
      readonly error: SerializedError;
    }
  /** The job was aborted before it started and did not run. */
  | { readonly t: 'skipped'; readonly id: number };

/** Sent by the main thread on the abort channel: stop this job. */
export interface AbortMessage {
  readonly id: number;
  readonly reason: SerializedError;
}
