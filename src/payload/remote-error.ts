/**
 * Errors thrown by a handler cross a thread or a network as plain data and are rebuilt on the caller's
 * side with the same name, message, `code`, stack and other simple own properties (`errno`, `path`...).
 */

/** An error as it travels. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string | number;
  /** Other own properties whose values are strings, numbers or booleans. */
  readonly properties?: Readonly<Record<string, string | number | boolean>>;
}

const skipped = new Set(['name', 'message', 'stack', 'code', 'cause']);

/** Captures a thrown value, Error or not, as data. */
export function serializeError(thrown: unknown): SerializedError {
  if (!(thrown instanceof Error)) {
    return { name: 'Error', message: `a non-Error value was thrown: ${describeThrown(thrown)}` };
  }
  const properties: Record<string, string | number | boolean> = {};
  let hasProperties = false;
  for (const key of Object.keys(thrown)) {
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (skipped.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      properties[key] = value;
      hasProperties = true;
    }
  }
  const code = (thrown as { code?: unknown }).code;
  return {
    name: thrown.name,
    message: thrown.message,
    ...(thrown.stack === undefined ? {} : { stack: thrown.stack }),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(hasProperties ? { properties } : {}),
  };
}

const builtins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * Rebuilds an error from data. A built-in name gets its built-in class (so `instanceof TypeError` holds);
 * any other name is kept on a plain Error.
 */
export function deserializeError(data: SerializedError): Error {
  const Constructor = Object.hasOwn(builtins, data.name) ? builtins[data.name] : Error;
  const error = new (Constructor ?? Error)(data.message);
  if (error.name !== data.name) {
    Object.defineProperty(error, 'name', { value: data.name, writable: true, configurable: true });
  }
  if (data.stack !== undefined) error.stack = data.stack;
  // defineProperty, not assignment: a key named __proto__ from the wire must stay a plain property.
  for (const [key, value] of Object.entries(data.properties ?? {})) defineDataProperty(error, key, value);
  if (data.code !== undefined) defineDataProperty(error, 'code', data.code);
  return error;
}

function defineDataProperty(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Whether a value has the shape of a {@link SerializedError}, for data arriving from outside. */
export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const { name, message } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof message === 'string';
}

function describeThrown(thrown: unknown): string {
  try {
    return typeof thrown === 'string' ? JSON.stringify(thrown) : (JSON.stringify(thrown) ?? String(thrown));
  } catch {
    return String(thrown);
  }
}
