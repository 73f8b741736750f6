/**
 * Every error gearshift raises is a {@link GearshiftError} with a stable string `code`, so callers can
 * branch on `err.code` (or `instanceof`) without parsing messages. Messages name the function, the
 * handle where one exists, and what was expected.
 */

/** The codes of every {@link GearshiftError}, one per condition. */
export type GearshiftErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_UNKNOWN_FUNCTION'
  | 'ERR_PAYLOAD'
  | 'ERR_JOB_FAILED'
  | 'ERR_WORKER_CRASHED'
  | 'ERR_JOB_TIMEOUT'
  | 'ERR_JOB_ABORTED'
  | 'ERR_JOB_CANCELLED'
  | 'ERR_FUNCTIONS_MODULE'
  | 'ERR_CLIENT_CLOSED'
  | 'ERR_QUEUE_FILE'
  | 'ERR_UNSUPPORTED'
  | 'ERR_PROTOCOL'
  | 'ERR_SERVER'
  | 'ERR_CONNECTION';

/** The base class of every error gearshift raises. */
export class GearshiftError extends Error {
  /** A stable code naming the condition; see {@link GearshiftErrorCode}. */
  readonly code: GearshiftErrorCode;

  constructor(code: GearshiftErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option or argument has the wrong type or value. Raised synchronously, before anything runs. */
export class InvalidOptionError extends GearshiftError {
  /** The option that was wrong, e.g. `threads` or `options.priority`. */
  readonly option: string;

  /**
   * @param secret the option may hold a secret (a TLS key, say): the message then gives the value's type
   *   only, never its content.
   */
  constructor(option: string, expected: string, received: unknown, { secret = false } = {}) {
    const got = secret
      ? `${describeType(received)} (its content is not shown: it may be a secret)`
      : describeValue(received);
    super('ERR_INVALID_OPTION', `Expected \`${option}\` to be ${expected}, got ${got}`);
    this.option = option;
  }
}

/** A job was submitted for a function that the functions module does not define. */
export class UnknownFunctionError extends GearshiftError {
  readonly functionName: string;
  /** The functions that do exist. */
  readonly known: readonly string[];

  constructor(functionName: string, known: readonly string[]) {
    const list = known.length > 0 ? known.map((name) => `'${name}'`).join(', ') : '(none)';
    super('ERR_UNKNOWN_FUNCTION', `Unknown function '${functionName}': the functions are ${list}`);
    this.functionName = functionName;
    this.known = known;
  }
}

/** A payload (a job's input, result or data chunk) cannot be carried as the function expects. */
export class PayloadError extends GearshiftError {
  readonly functionName: string;
  /** Where in the value the problem is, as a path such as `input.users[3].createdAt`. */
  readonly path: string;
  /** What is wrong there, and what to send instead. */
  readonly problem: string;

  constructor(functionName: string, path: string, problem: string) {
    super('ERR_PAYLOAD', `${functionName}: ${path} ${problem}`);
    this.functionName = functionName;
    this.path = path;
    this.problem = problem;
  }
}

/**
 * The job's handler threw (or a remote worker reported a failure). `cause` is the handler's error,
 * rebuilt with its original name, message, `code` and stack.
 */
export class JobFailedError extends GearshiftError {
  readonly functionName: string;
  readonly handle: string | undefined;

  constructor(functionName: string, handle: string | undefined, cause: Error | undefined) {
    const detail = cause ? `: ${cause.name}: ${cause.message}` : ' (the worker gave no reason)';
    super('ERR_JOB_FAILED', `${functionName}${handleSuffix(handle)} failed${detail}`, { cause });
    this.functionName = functionName;
    this.handle = handle;
  }
}

/** The thread or process running the job died (process.exit, an uncaught error, out of memory, terminated). */
export class WorkerCrashedError extends GearshiftError {
  readonly functionName: string;
  readonly handle: string | undefined;
  /** How the worker was lost: "its thread exited with code 3", say. */
  readonly reason: string;
  /**
   * The handle of another job that took the thread down while this one ran beside it (this job is
   * innocent: a queue runner gives it back its attempt, a Gearman worker runs it again); undefined when
   * this job did it, or nobody knows which job did.
   */
  readonly culprit: string | undefined;

  constructor(
    functionName: string,
    handle: string | undefined,
    reason: string,
    cause?: unknown,
    culprit?: string,
  ) {
    super('ERR_WORKER_CRASHED', `${functionName}${handleSuffix(handle)} lost its worker: ${reason}`, {
      cause,
    });
    this.functionName = functionName;
    this.handle = handle;
    this.reason = reason;
    this.culprit = culprit;
  }
}

/**
 * Whether a job failed only because another job took down the thread they shared: the failure is not
 * its own (a queue runner gives the job its attempt back, a Gearman worker runs it again).
 */
export function tookDownByAnother(error: unknown): boolean {
  return error instanceof WorkerCrashedError && error.culprit !== undefined;
}

/** The job ran longer than its `timeout` (counted from when it started, not from when it was queued). */
export class JobTimeoutError extends GearshiftError {
  readonly functionName: string;
  readonly handle: string | undefined;
  readonly timeout: number;

  constructor(functionName: string, handle: string | undefined, timeout: number) {
    super(
      'ERR_JOB_TIMEOUT',
      `${functionName}${handleSuffix(handle)} timed out after ${timeout} ms of running`,
    );
    this.functionName = functionName;
    this.handle = handle;
    this.timeout = timeout;
  }
}

/** The caller aborted the job (its `signal` fired, or the client was destroyed). */
export class JobAbortedError extends GearshiftError {
  readonly functionName: string;
  readonly handle: string | undefined;
  /** Why, as text. */
  readonly reason: string;

  constructor(functionName: string, handle: string | undefined, reason: unknown) {
    super(
      'ERR_JOB_ABORTED',
      `${functionName}${handleSuffix(handle)} was aborted: ${describeReason(reason)}`,
      {
        cause: reason,
      },
    );
    this.functionName = functionName;
    this.handle = handle;
    this.reason = describeReason(reason);
  }
}

/**
 * An operator cancelled the job (`cancel()`, the CLI, the console): it never ran, or its `signal` aborted
 * while it ran. It ends as `cancelled`, not failed, and is not tried again.
 */
export class JobCancelledError extends GearshiftError {
  readonly functionName: string;
  readonly handle: string | undefined;

  constructor(functionName: string, handle: string | undefined, when: 'queued' | 'running') {
    super(
      'ERR_JOB_CANCELLED',
      `${functionName}${handleSuffix(handle)} was cancelled ${when === 'queued' ? 'before it ran' : 'while it ran'}`,
    );
    this.functionName = functionName;
    this.handle = handle;
  }
}

/** The functions module could not be found, threw while loading, or does not export `defineFunctions(...)`. */
export class FunctionsModuleError extends GearshiftError {
  /** The module's location as it was given. */
  readonly module: string;
  /** What went wrong with it. */
  readonly problem: string;

  constructor(module: string, problem: string, cause?: unknown) {
    super('ERR_FUNCTIONS_MODULE', `Functions module ${module} ${problem}`, { cause });
    this.module = module;
    this.problem = problem;
  }
}

/** A job was submitted after `close()` or `destroy()`, or was still waiting when `destroy()` ran. */
export class ClientClosedError extends GearshiftError {
  constructor(message: string) {
    super('ERR_CLIENT_CLOSED', message);
  }
}

/** A queue file cannot be used: not a SQLite database, another application's, unwritable, too new. */
export class QueueFileError extends GearshiftError {
  /** The file's absolute path. */
  readonly file: string;

  constructor(file: string, problem: string, cause?: unknown) {
    super('ERR_QUEUE_FILE', `Queue file ${file} ${problem}`, { cause });
    this.file = file;
  }
}

/** The backend cannot do what was asked (background jobs without a queue, say). */
export class UnsupportedError extends GearshiftError {
  constructor(message: string) {
    super('ERR_UNSUPPORTED', message);
  }
}

/**
 * Bytes that are not the Gearman protocol: a bad magic, an unknown packet type, a frame larger than
 * allowed, a packet without the arguments its type needs. The connection that carried them is closed.
 */
export class GearmanProtocolError extends GearshiftError {
  /** The server the bytes came from, as host:port. */
  readonly server: string | undefined;

  constructor(problem: string, server?: string) {
    super('ERR_PROTOCOL', `Gearman protocol error${server ? ` from ${server}` : ''}: ${problem}`);
    this.server = server;
  }
}

/** A job server answered with an ERROR packet (a queue full under maxqueue, say). */
export class GearmanServerError extends GearshiftError {
  readonly server: string;
  /** The server's error code, as it sent it: `QUEUE_ERROR`, `UNKNOWN_COMMAND`... */
  readonly serverCode: string;

  constructor(server: string, serverCode: string, text: string) {
    super('ERR_SERVER', `Gearman server ${server} refused: ${serverCode}${text ? ` (${text})` : ''}`);
    this.server = server;
    this.serverCode = serverCode;
  }
}

/** A job server could not be reached, or went away while a job depended on it. */
export class GearmanConnectionError extends GearshiftError {
  readonly server: string;

  constructor(server: string, problem: string, cause?: unknown) {
    super('ERR_CONNECTION', `Gearman server ${server} ${problem}`, { cause });
    this.server = server;
  }
}

function handleSuffix(handle: string | undefined): string {
  return handle === undefined ? '' : ` (${handle})`;
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (reason === undefined) return 'no reason given';
  return String(reason);
}

/** Describes a received value for an error message: its rendering and its type, as p-queue does. */
/** A value's kind, without its content: `a string`, `a number`, `an array`, `null`... */
function describeType(value: unknown): string {
  if (value === null) return '`null`';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

export function describeValue(value: unknown): string {
  if (value === null) return '`null`';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${JSON.stringify(value.slice(0, 60))}...` : JSON.stringify(value);
    return `\`${shown}\` (string)`;
  }
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'object') {
    const name = Object.getPrototypeOf(value)?.constructor?.name;
    return Array.isArray(value) ? 'an array' : `an object (${name ?? 'null prototype'})`;
  }
  return `\`${String(value)}\` (${typeof value})`;
}
