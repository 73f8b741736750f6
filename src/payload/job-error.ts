/**
 * A job's failure as data, and back: for failures that cross a process (a queue file, a Gearman
 * WORK_EXCEPTION) and must reach the caller as the same typed error a local job would have given.
 */
import {
  FunctionsModuleError,
  GearshiftError,
  JobAbortedError,
  JobCancelledError,
  JobFailedError,
  JobTimeoutError,
  PayloadError,
  UnknownFunctionError,
  WorkerCrashedError,
} from '../errors.js';
import { deserializeError, isSerializedError, type SerializedError, serializeError } from './remote-error.js';

/** A job's failure as it is stored or sent. */
export interface JobErrorData {
  readonly code: string;
  readonly message: string;
  /** The handler's own error, for ERR_JOB_FAILED. */
  readonly cause?: SerializedError;
  /** What the condition's class needs to be rebuilt (reason, timeout, path, problem, module, culprit). */
  readonly details?: Readonly<Record<string, string | number>>;
}

/** Captures a failure: a GearshiftError with what its class needs, anything else as a handler error. */
export function jobErrorToData(error: unknown): JobErrorData {
  if (!(error instanceof GearshiftError)) {
    return {
      code: 'ERR_JOB_FAILED',
      message: String((error as Error)?.message ?? error),
      cause: serializeError(error),
    };
  }
  const details: Record<string, string | number> = {};
  for (const key of ['reason', 'timeout', 'path', 'problem', 'module', 'culprit'] as const) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (typeof value === 'string' || typeof value === 'number') details[key] = value;
  }
  const cause =
    error instanceof JobFailedError && error.cause !== undefined ? serializeError(error.cause) : undefined;
  return { code: error.code, message: error.message, ...(cause ? { cause } : {}), details };
}

/** Where a job ended without a result: in its handler, its payload, its module, or an unknown name. */
export type FailureOrigin = 'handler' | 'payload' | 'module' | 'unknown-function';

/** Where a job of the local pool failed and what was thrown, as its runner reports it. */
export interface JobFailure {
  readonly origin: FailureOrigin;
  /** The handler's own error (inline: the very object; from a thread: rebuilt from its message). */
  readonly thrown: unknown;
  /** The functions that do exist, for an unknown one. */
  readonly known: readonly string[];
}

/** The codes of the conditions a local runner reports, by where the job failed. */
const codeOfOrigin: Readonly<Record<FailureOrigin, string>> = {
  handler: 'ERR_JOB_FAILED',
  payload: 'ERR_PAYLOAD',
  module: 'ERR_FUNCTIONS_MODULE',
  'unknown-function': 'ERR_UNKNOWN_FUNCTION',
};

/** Rebuilds the typed error of a local job's failure: the same classes as from data, the cause kept. */
export function jobErrorFromOutcome(
  failure: JobFailure,
  functionName: string,
  handle: string,
): GearshiftError {
  const { origin, thrown, known } = failure;
  const error = thrown instanceof Error ? thrown : deserializeError(serializeError(thrown));
  const details: Record<string, string> = { known: known.join('\u0000') };
  for (const key of ['path', 'problem', 'module'] as const) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (typeof value === 'string') details[key] = value;
  }
  if (origin === 'module') details.module ??= 'of this client';
  const data: JobErrorData = { code: codeOfOrigin[origin], message: error.message, details };
  return jobErrorFromData(data, functionName, handle, error);
}

/**
 * Rebuilds the typed error of a job's failure for its caller. `cause`, when the failure did not cross a
 * process, is the handler's own error, passed on as it is.
 */
export function jobErrorFromData(
  data: JobErrorData,
  functionName: string,
  handle: string,
  cause?: Error,
): GearshiftError {
  const detail = (key: string): string | undefined => {
    const value = data.details?.[key];
    return value === undefined ? undefined : String(value);
  };
  switch (data.code) {
    case 'ERR_WORKER_CRASHED':
      return new WorkerCrashedError(
        functionName,
        handle,
        detail('reason') ?? data.message,
        undefined,
        detail('culprit'),
      );
    case 'ERR_JOB_TIMEOUT':
      return new JobTimeoutError(functionName, handle, Number(data.details?.timeout ?? 0));
    case 'ERR_JOB_ABORTED':
      return new JobAbortedError(functionName, handle, detail('reason') ?? data.message);
    case 'ERR_JOB_CANCELLED':
      return new JobCancelledError(
        functionName,
        handle,
        /while it ran/.test(data.message) ? 'running' : 'queued',
      );
    case 'ERR_PAYLOAD':
      return new PayloadError(functionName, detail('path') ?? 'result', detail('problem') ?? data.message);
    case 'ERR_FUNCTIONS_MODULE':
      return new FunctionsModuleError(
        detail('module') ?? '(of the runner)',
        detail('problem') ?? data.message,
        cause,
      );
    case 'ERR_UNKNOWN_FUNCTION':
      return new UnknownFunctionError(functionName, detail('known')?.split('\u0000').filter(Boolean) ?? []);
    default: {
      const handlerError =
        cause ??
        (data.cause && isSerializedError(data.cause)
          ? deserializeError(data.cause)
          : new Error(data.message));
      return new JobFailedError(functionName, handle, handlerError);
    }
  }
}

/** Reads a stored failure, tolerating text that is not one (it becomes a handler error with that text). */
export function parseJobErrorData(text: string): JobErrorData {
  try {
    const parsed = JSON.parse(text) as Partial<JobErrorData>;
    if (typeof parsed.code === 'string' && typeof parsed.message === 'string') return parsed as JobErrorData;
  } catch {}
  return { code: 'ERR_JOB_FAILED', message: text, cause: { name: 'Error', message: text } };
}

const jobErrorPrefix = Buffer.from('{"code":"ERR_');

/**
 * Whether bytes are a failure as jobErrorToData writes it (its JSON begins with the code): how a
 * gearshift client tells a worker's failure sent as a warning from a handler's own warning.
 */
export function isJobErrorText(bytes: Buffer): boolean {
  return (
    bytes.length > jobErrorPrefix.length && bytes.subarray(0, jobErrorPrefix.length).equals(jobErrorPrefix)
  );
}
