/**
 * The validation toolkit every options object and argument goes through, so that a bad value
 * gets the same kind of TypeError everywhere: `<key> must be <what is accepted>, got <value>`.
 * Each check returns the checked value (or the fallback for `undefined`), so resolvers read as
 * one line per option.
 */

/** Largest count accepted (an i32 on the engine side). */
export const MAX_COUNT = 2 ** 31 - 1;
/** Longest finite time accepted (about 24.8 days), as for setTimeout. */
export const MAX_TIME = 2 ** 31 - 1;

/** A short description of a bad value for error messages (never the value of an object). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** A plain object (not null, not an array), or a TypeError `<what> must be <shape>`. */
export function checkObject(what: string, value: unknown, shape = 'an object'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be ${shape}, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Every key of `value` is one of `known`, or a TypeError naming the first unknown one. */
export function checkKnownKeys(what: string, value: object, known: readonly string[] | ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (!(Array.isArray(known) ? known.includes(key) : (known as ReadonlySet<string>).has(key))) {
      throw new TypeError(`unknown ${what} option ${JSON.stringify(key)} (known: ${[...known].join(', ')})`);
    }
  }
}

interface RangeRule {
  /** Smallest value accepted. */
  min: number;
  /** Whether `Infinity` is accepted (no limit). */
  infinite?: boolean;
}

/** An integer from `min` to MAX_COUNT (or Infinity where allowed). */
export function checkCount(key: string, value: unknown, rule: RangeRule, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (rule.infinite && value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > MAX_COUNT) {
    throw new TypeError(`${key} must be an integer from ${rule.min} to ${MAX_COUNT}${rule.infinite ? ' or Infinity' : ''}, got ${describe(value)}`);
  }
  return value;
}

/** An integer from `min` to `max`. */
export function checkRange(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${key} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** A number of milliseconds from `min` to MAX_TIME (or Infinity where allowed). */
export function checkTime(key: string, value: unknown, rule: RangeRule, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (rule.infinite && value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < rule.min || value > MAX_TIME) {
    throw new TypeError(`${key} must be a number of milliseconds from ${rule.min} to ${MAX_TIME}${rule.infinite ? ' or Infinity' : ''}, got ${describe(value)}`);
  }
  return value;
}

/** A boolean. */
export function checkFlag(key: string, value: unknown, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${key} must be a boolean, got ${describe(value)}`);
  return value;
}

/** A function (or undefined, when not required). */
export function checkFunction<F>(key: string, value: unknown, required: boolean): F | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'function') {
    throw new TypeError(`${key} must be a function${required ? '' : ' or undefined'}, got ${describe(value)}`);
  }
  return value as F;
}

/** One of a few strings: `<key> must be 'a' or 'b'`. */
export function checkOneOf<T extends string>(key: string, value: unknown, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!allowed.includes(value as T)) {
    const names = allowed.map((a) => `'${a}'`);
    const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
    throw new TypeError(`${key} must be ${list}, got ${describe(value)}`);
  }
  return value as T;
}
