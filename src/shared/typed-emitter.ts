/**
 * `TypedEmitter<M>`: Node's `EventEmitter` (the very class, at run time) whose listener methods
 * are typed by an event map `M` (event name → the listener's arguments), so that a misspelt
 * event or a listener of the wrong shape is a compile error. `@types/node`'s own
 * `EventEmitter<T>` does this only from 20.11; written out here, the published types compile
 * against any `@types/node` a Node 20 project has.
 */
import { EventEmitter } from 'node:events';

/** Event name → the arguments its listeners get. */
export type EventMap<M> = { [E in keyof M]: unknown[] };

/** A listener of event `E` of the event map `M`: it gets that event's arguments. */
export type TypedListener<M extends EventMap<M>, E extends keyof M> = (...args: M[E]) => void;

/** The methods replaced: typed by `M`, or returning the subclass (`this`) for chaining. */
type Replaced =
  | 'setMaxListeners'
  | 'on'
  | 'addListener'
  | 'prependListener'
  | 'once'
  | 'prependOnceListener'
  | 'off'
  | 'removeListener'
  | 'removeAllListeners'
  | 'listenerCount'
  | 'listeners'
  | 'rawListeners';

/**
 * Node's `EventEmitter` with its listener methods typed by the event map `M`; the other
 * members are EventEmitter's own.
 */
export interface TypedEmitter<M extends EventMap<M>> extends Omit<EventEmitter, Replaced> {
  /** As EventEmitter's `setMaxListeners` (Node's default is 10 per event; `0` or `Infinity` for no limit), returning this emitter for chaining. */
  setMaxListeners(n: number): this;
  /** As EventEmitter's `on`, typed by the event map `M`. */
  on<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  /** As EventEmitter's `addListener` (the same as `on`), typed by the event map `M`. */
  addListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  /** As EventEmitter's `prependListener`, typed by the event map `M`. */
  prependListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  /** As EventEmitter's `once`, typed by the event map `M`. */
  once<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  /** As EventEmitter's `prependOnceListener`, typed by the event map `M`. */
  prependOnceListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  /** As EventEmitter's `off` (the same as `removeListener`), typed by the event map `M`. */
  off<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  /** As EventEmitter's `removeListener`, typed by the event map `M`. */
  removeListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  /** As EventEmitter's `removeAllListeners`: of `event`, or of every event when it is left out. */
  removeAllListeners(event?: keyof M): this;
  /** As EventEmitter's `listenerCount`: how many listeners `event` has. */
  listenerCount(event: keyof M): number;
  /** As EventEmitter's `listeners`: a copy of `event`'s listeners, typed by the event map `M`. */
  listeners<E extends keyof M>(event: E): Array<TypedListener<M, E>>;
  /** As EventEmitter's `rawListeners`: like `listeners`, with `once` wrappers left in, typed by the event map `M`. */
  rawListeners<E extends keyof M>(event: E): Array<TypedListener<M, E>>;
}

/** The `TypedEmitter` class: Node's `EventEmitter` itself, typed as {@link TypedEmitter}. */
export const TypedEmitter = EventEmitter as unknown as new <M extends EventMap<M>>() => TypedEmitter<M>;
