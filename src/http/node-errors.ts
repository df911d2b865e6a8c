/**
 * Node's argument errors, for http.Agent's own options: code written for `http.Agent` (and
 * Node's own tests) branch on `err.code`, so an invalid `maxTotalSockets` or `scheduling` is the
 * same error as Node's: `ERR_INVALID_ARG_TYPE` (TypeError), `ERR_INVALID_ARG_VALUE`
 * (TypeError), `ERR_OUT_OF_RANGE` (RangeError), with Node's messages. Node does not export its
 * error classes; these have the same name, code and message.
 */
import { inspect } from 'node:util';

/** An error with Node's `code`, printed as Node prints its own (`TypeError [CODE]: message`). */
function nodeError<E extends Error>(Base: new (message: string) => E, code: string, message: string): E & { code: string } {
  const error = new Base(message) as E & { code: string };
  error.code = code;
  Object.defineProperty(error, 'toString', {
    value(this: Error) {
      return `${this.name} [${code}]: ${this.message}`;
    },
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return error;
}

/** Node's rendering of a received value (lib/internal/errors.js, `determineSpecificType`). */
function received(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name}`;
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `Received an instance of ${name}` : `Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof value} (${shown})`;
}

/** `value` if it is of `type`, else Node's `ERR_INVALID_ARG_TYPE`. */
export function checkNodeType<T extends 'number' | 'boolean'>(name: string, value: unknown, type: T): T extends 'number' ? number : boolean {
  if (typeof value !== type) {
    throw nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type ${type}. ${received(value)}`);
  }
  return value as T extends 'number' ? number : boolean;
}

/** Node's `ERR_OUT_OF_RANGE`: `The value of "name" is out of range. It must be <range>. Received <value>`. */
export function nodeRangeError(name: string, range: string, value: unknown): RangeError & { code: string } {
  return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${inspect(value)}`);
}

/** `value` if it is one of `allowed`, else Node's `ERR_INVALID_ARG_VALUE` (as `validateOneOf`). */
export function checkNodeOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const list = allowed.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
    throw nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument '${name}' must be one of: ${list}. Received ${inspect(value)}`);
  }
  return value as T;
}
