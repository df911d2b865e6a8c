// Destination validation: anything but 'host:port', '[v6]:port' or 'unix:/absolute/path' makes
// acquire() return a rejected promise with a TypeError that quotes the input.
import test from 'ava';
import { BerthError } from 'berth';
import { createPool } from './helpers/pool.mjs';

const INVALID = [
  '',
  'localhost',          // no port
  'host:',              // empty port
  'host:0',             // port 0 is not a destination
  'host:70000',         // port out of range
  'host:65536',
  'host:-1',
  'host:abc',
  'host:80x',
  ':80',                // no host
  '[::1]',              // v6 without port
  '[::1',               // unbalanced bracket
  '[::1]:',
  'unix:relative/path', // unix paths must be absolute
  'unix:',
  'http://x:1',         // a URL is not a destination
];

for (const input of INVALID) {
  test(`acquire(${JSON.stringify(input)}) rejects with a TypeError quoting the input`, async (t) => {
    const pool = createPool(t);
    let promise;
    t.notThrows(() => { promise = pool.acquire(input); }, 'acquire() does not throw synchronously');
    t.true(promise instanceof Promise);
    const err = await t.throwsAsync(promise, { instanceOf: TypeError });
    t.false(err instanceof BerthError);
    t.true(err.message.includes(`"${input}"`), `message ${JSON.stringify(err.message)} quotes ${JSON.stringify(input)}`);
    t.like(pool.stats(), { open: 0, dialing: 0, waiting: 0, dialFailures: 0 });
  });
}

for (const input of [123, null, undefined, {}, ['127.0.0.1:80']]) {
  test(`acquire(${String(input)}: ${typeof input}) rejects with a TypeError`, async (t) => {
    const pool = createPool(t);
    let promise;
    t.notThrows(() => { promise = pool.acquire(input); }, 'acquire() does not throw synchronously');
    await t.throwsAsync(promise, { instanceOf: TypeError });
  });
}

test('the TypeError for a number mentions it', async (t) => {
  const pool = createPool(t);
  await t.throwsAsync(pool.acquire(123), { instanceOf: TypeError, message: /123/ });
});

test('pool.use() with an invalid destination rejects and never calls the callback', async (t) => {
  const pool = createPool(t);
  let called = false;
  await t.throwsAsync(pool.use('nope', () => { called = true; }), { instanceOf: TypeError, message: /"nope"/ });
  t.false(called);
});
