/**
 * Runtime JSON rules. Payloads are JSON on every backend, so a value that JSON would change or refuse is
 * caught here, whatever the transport: a job behaves the same in a thread, inline and on Gearman.
 *
 * Inputs are checked strictly at submit (a `Date` in an input is refused, because the handler would get
 * a string on Gearman but a `Date` from a thread). Results and data chunks follow `JSON.stringify`
 * semantics instead (a `Date` becomes its ISO string), which the result types say too (`Jsonified`).
 */
import { PayloadError } from '../errors.js';

/** Where a value departs from plain JSON, and how. */
export interface JsonProblem {
  readonly path: string;
  readonly problem: string;
  /** Whether `JSON.stringify` would still produce something (it only changes the value). */
  readonly convertible: boolean;
}

/** Deeper than this, a payload is refused rather than risking the stack of the thread that walks it. */
const maxDepth = 1000;

/**
 * Finds the first place where `value` is not plain JSON data, or undefined when the structured clone a
 * thread receives equals what `JSON.parse(JSON.stringify(value))` would give. Undefined object properties
 * are fine (both drop or ignore them).
 */
export function findJsonProblem(value: unknown, path: string): JsonProblem | undefined {
  // Most payloads of tiny jobs are primitives: no walk, no set of ancestors.
  if (typeof value !== 'object' || value === null) return walk(value, path, noAncestors, 0);
  return walk(value, path, new Set(), 0);
}

/** The ancestors of a primitive: it has none, and walk() adds to the set only for objects. */
const noAncestors: Set<object> = new Set();

function walk(value: unknown, path: string, ancestors: Set<object>, depth: number): JsonProblem | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value)
        ? undefined
        : { path, problem: `is ${value}, which JSON turns into null`, convertible: true };
    case 'undefined':
      return depth === 0
        ? undefined
        : { path, problem: 'is undefined, which JSON turns into null', convertible: true };
    case 'bigint':
      return {
        path,
        problem: 'is a BigInt, which JSON cannot carry (send it as a string)',
        convertible: false,
      };
    case 'symbol':
      return { path, problem: 'is a symbol, which cannot leave its thread', convertible: false };
    case 'function':
      return {
        path,
        problem: `is a function (${value.name || 'anonymous'}), which cannot leave its thread`,
        convertible: false,
      };
  }
  if (value === null) return undefined;
  const object = value as object;
  if (depth >= maxDepth)
    return { path, problem: `is nested deeper than ${maxDepth} levels`, convertible: false };
  if (ancestors.has(object))
    return { path, problem: 'refers back to itself (a cycle), which JSON cannot carry', convertible: false };
  if (Array.isArray(object)) {
    ancestors.add(object);
    for (let index = 0; index < object.length; index++) {
      if (!(index in object))
        return { path: `${path}[${index}]`, problem: 'is a hole in a sparse array', convertible: true };
      const found = walk(object[index], `${path}[${index}]`, ancestors, depth + 1);
      if (found) return found;
    }
    ancestors.delete(object);
    return undefined;
  }
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) return describeInstance(object, path);
  ancestors.add(object);
  for (const key of Object.keys(object)) {
    const child = (object as Record<string, unknown>)[key];
    if (child === undefined) continue;
    const found = walk(child, `${path}${propertyPath(key)}`, ancestors, depth + 1);
    if (found) return found;
  }
  ancestors.delete(object);
  return undefined;
}

function describeInstance(object: object, path: string): JsonProblem {
  if (object instanceof Date) {
    return {
      path,
      problem: 'is a Date, which JSON turns into a string (send date.toISOString())',
      convertible: true,
    };
  }
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) {
    return {
      path,
      problem:
        'is binary data, which JSON mangles (declare the function with { bytes: handler }, or send base64)',
      convertible: true,
    };
  }
  if (object instanceof Map || object instanceof Set) {
    return {
      path,
      problem: `is a ${object.constructor.name}, which JSON turns into {} (send an array)`,
      convertible: true,
    };
  }
  if (object instanceof Error) {
    return { path, problem: 'is an Error, which JSON turns into {} (send its message)', convertible: true };
  }
  const name = (object.constructor as { name?: string } | undefined)?.name ?? 'a class';
  return {
    path,
    problem: `is an instance of ${name}, which loses its class and methods on the way (send a plain object)`,
    convertible: true,
  };
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Refuses an input that is not plain JSON data, naming where and why. */
export function assertJsonInput(functionName: string, input: unknown): void {
  const found = findJsonProblem(input, 'input');
  if (found) throw new PayloadError(functionName, found.path, found.problem);
}

/**
 * Gives a result or data chunk the value the caller would get through JSON: plain data as it is, anything
 * else through `JSON.stringify` semantics. Throws a {@link PayloadError} for what JSON cannot carry at all.
 */
export function toJsonPayload(functionName: string, what: string, value: unknown): unknown {
  const found = findJsonProblem(value, what);
  if (!found) return value;
  if (!found.convertible) throw new PayloadError(functionName, found.path, found.problem);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // What lies past the first conversion (inside a class instance, say) can still be a BigInt or a cycle.
    throw new PayloadError(
      functionName,
      found.path,
      `cannot be turned into JSON: ${(error as Error).message}`,
    );
  }
  return text === undefined ? undefined : JSON.parse(text);
}
