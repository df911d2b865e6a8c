// Records berth's diagnostics_channel messages of one pool (channels are process-wide; each
// test filters by its own pool, so tests running side by side do not see each other's).
import diagnosticsChannel from 'node:diagnostics_channel';
import { waitFor } from './net.mjs';

export const CHANNELS = ['berth:pool:connect', 'berth:pool:release', 'berth:pool:evict', 'berth:listener:session', 'berth:group:member'];
const TRACE_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'];

/**
 * Subscribes to every berth channel (and to the acquire TracingChannel's five events) until
 * t.teardown; returns { log: [{ channel, message }], of(channel), next(channel, predicate) }.
 * `mine(message)` picks the messages kept (default: those of `pool`).
 */
export function recordChannels(t, pool, mine = (message) => message.pool === pool) {
  const log = [];
  const unsubscribe = [];
  for (const name of CHANNELS) {
    const handler = (message) => { if (mine(message)) log.push({ channel: name, message }); };
    diagnosticsChannel.subscribe(name, handler);
    unsubscribe.push(() => diagnosticsChannel.unsubscribe(name, handler));
  }
  const tracing = diagnosticsChannel.tracingChannel('berth:pool:acquire');
  const handlers = Object.fromEntries(TRACE_EVENTS.map((event) => [event, (context) => {
    if (mine(context)) log.push({ channel: `berth:pool:acquire:${event}`, message: context });
  }]));
  tracing.subscribe(handlers);
  unsubscribe.push(() => tracing.unsubscribe(handlers));
  t.teardown(() => { for (const u of unsubscribe) u(); });
  const of = (channel) => log.filter((e) => e.channel === channel).map((e) => e.message);
  return {
    log,
    of,
    /** The acquire channel's event names in order, for the context `context`. */
    traceOf: (context) => log.filter((e) => e.channel.startsWith('berth:pool:acquire:') && e.message === context).map((e) => e.channel.slice('berth:pool:acquire:'.length)),
    /** Waits (hang guard 15 s) for a message on `channel` that `predicate` accepts; returns it. */
    async next(channel, predicate = () => true) {
      let found;
      await waitFor(() => (found = of(channel).find(predicate)) !== undefined, { timeout: 15_000, message: `a message on ${channel}` });
      return found;
    },
  };
}
