// The table of queued acquires: tokens name a slot and a generation, so that an event about a
// waiter that already left can never reach the waiter that took its slot. Internal, tested
// directly because the pool relies on it for every queued acquire.
import test from 'ava';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { WaiterTable } = require('../dist/shared/waiter-table.js');

test('add returns the announced token; get/take find the entry once', (t) => {
  const table = new WaiterTable();
  const token = table.nextToken();
  t.is(table.add('a'), token);
  t.is(table.size, 1);
  t.is(table.get(token), 'a');
  t.is(table.take(token), 'a');
  t.is(table.take(token), undefined);
  t.is(table.get(token), undefined);
  t.is(table.size, 0);
});

test('a reused slot gets a new token; the old token finds nothing', (t) => {
  const table = new WaiterTable();
  const first = table.add('first');
  table.take(first);
  const second = table.add('second');
  t.not(second, first);
  t.is(table.get(first), undefined);
  t.is(table.take(first), undefined);
  t.is(table.get(second), 'second');
  t.is(table.size, 1);
});

test('tokens stay distinct across many generations of one slot, beyond 32 bits', (t) => {
  const table = new WaiterTable();
  const seen = new Set();
  let token = 0;
  for (let i = 0; i < 5000; i++) {
    token = table.add(i);
    t.false(seen.has(token));
    seen.add(token);
    t.is(table.get(token), i);
    table.take(token);
  }
  // Generation 4999 of slot 0: 4999 * 2^21 exceeds 2^32, so the slot comes from the low bits.
  t.true(token > 2 ** 32);
  const last = table.add('last');
  t.is(table.get(last), 'last');
  for (const old of seen) t.is(table.get(old), undefined);
});

test('many waiters at once: each token finds its own entry', (t) => {
  const table = new WaiterTable();
  const tokens = [];
  for (let i = 0; i < 100; i++) tokens.push(table.add(i));
  // Free every other slot and refill it: generations move on for those slots only.
  for (let i = 0; i < 100; i += 2) t.is(table.take(tokens[i]), i);
  const refills = [];
  for (let i = 0; i < 50; i++) refills.push(table.add(`r${i}`));
  t.is(table.size, 100);
  for (let i = 1; i < 100; i += 2) t.is(table.get(tokens[i]), i);
  for (let i = 0; i < 100; i += 2) t.is(table.get(tokens[i]), undefined);
  t.deepEqual(new Set(refills.map((r) => table.get(r))).size, 50);
  t.is(table.tokens().length, 100);
});
