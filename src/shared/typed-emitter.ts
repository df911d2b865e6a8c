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

export interface TypedEmitter<M extends EventMap<M>> extends Omit<EventEmitter, Replaced> {
  setMaxListeners(n: number): this;
  on<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  addListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  prependListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  once<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  prependOnceListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  off<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  removeListener<E extends keyof M>(event: E, listener: TypedListener<M, E>): this;
  removeAllListeners(event?: keyof M): this;
  listenerCount(event: keyof M): number;
  listeners<E extends keyof M>(event: E): Array<TypedListener<M, E>>;
  rawListeners<E extends keyof M>(event: E): Array<TypedListener<M, E>>;
}

export const TypedEmitter = EventEmitter as unknown as new <M extends EventMap<M>>() => TypedEmitter<M>;
