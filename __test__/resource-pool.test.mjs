// ResourcePool basics: reuse, limits, idle order, waiter priority, the ways to borrow.
import test from 'ava';
import { pooled } from 'berth-pool';
import { BerthError, createResourcePool, makeFactory, over, until } from './helpers/resources.mjs';

test('a released resource is reused: one create serves sequential acquires', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f));
  const first = await pool.acquire();
  t.true(pool.isBorrowed(first));
  pool.release(first);
  t.false(pool.isBorrowed(first));
  for (let i = 0; i < 20; i++) {
    const r = await pool.acquire();
    t.is(r, first, 'the same resource object comes back');
    pool.release(r);
  }
  t.is(f.log.createCalls, 1);
  t.like(pool.stats(), { size: 1, available: 1, borrowed: 0, pending: 0, created: 1, acquired: 21, reused: 20 });
});

test('never more than max resources exist under 50 concurrent users, and every use succeeds', async (t) => {
  const f = makeFactory({ createDelay: 5 });
  const pool = createResourcePool(t, over(f, { max: 5 }));
  let inUse = 0;
  let peak = 0;
  const seen = new Set();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      pool.use(async (r) => {
        t.false(r.destroyed);
        inUse++;
        peak = Math.max(peak, inUse);
        seen.add(r);
        await new Promise((resolve) => setTimeout(resolve, 2));
        inUse--;
        return i;
      }),
    ),
  );
  t.deepEqual(results, Array.from({ length: 50 }, (_, i) => i));
  t.is(peak, 5, 'five users at a time');
  t.is(f.log.created.length, 5, 'five creates');
  t.is(seen.size, 5);
  t.like(pool.stats(), { size: 5, available: 5, borrowed: 0, pending: 0, acquired: 50 });
  t.is(pool.spareResourceCapacity, 0);
});

async function idleOrder(t, order) {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 3, order }));
  const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  pool.release(a);
  pool.release(b);
  pool.release(c);
  const next = await pool.acquire();
  pool.release(next);
  return { next, a, c };
}

test("order 'lifo' (the default) hands out the most recently released resource first", async (t) => {
  const { next, c } = await idleOrder(t, undefined);
  t.is(next, c);
});

test("order 'fifo' hands out the least recently released resource first", async (t) => {
  const { next, a } = await idleOrder(t, 'fifo');
  t.is(next, a);
});

test('waiters are served highest priority first, first come first served within a priority', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1 }));
  const held = await pool.acquire();
  const served = [];
  const priorities = [0, 0, 5, -1, 5, 0];
  const waits = priorities.map((priority, i) =>
    pool.acquire({ priority }).then((r) => {
      served.push(i);
      pool.release(r);
    }),
  );
  t.is(pool.pending, priorities.length);
  pool.release(held);
  await Promise.all(waits);
  t.deepEqual(served, [2, 4, 0, 1, 5, 3]);
  t.is(f.log.createCalls, 1);
});

test('release() or destroy() of something not borrowed is a NOT_BORROWED BerthError and changes nothing', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f));
  const r = await pool.acquire();
  t.throws(() => pool.release({}), { instanceOf: BerthError, code: 'NOT_BORROWED' });
  await t.throwsAsync(pool.destroy({ id: 'stranger' }), { instanceOf: BerthError, code: 'NOT_BORROWED' });
  pool.release(r);
  t.throws(() => pool.release(r), { instanceOf: BerthError, code: 'NOT_BORROWED' }, 'a second release');
  await t.throwsAsync(pool.destroy(r), { instanceOf: BerthError, code: 'NOT_BORROWED' }, 'destroy after release');
  t.like(pool.stats(), { size: 1, available: 1, borrowed: 0 });
  const again = await pool.acquire();
  t.is(again, r, 'the pool still hands it out');
  pool.release(again);
});

test('destroy() runs the factory destroy, frees the place and a new resource is created when needed', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1 }));
  const r = await pool.acquire();
  const waiting = pool.acquire();
  await pool.destroy(r);
  t.true(r.destroyed);
  const next = await waiting;
  t.not(next, r);
  t.false(next.destroyed);
  pool.release(next);
  t.like(pool.stats(), { created: 2, destroyed: 1, size: 1 });
});

test('use() releases on return and destroys on throw, rethrowing the error', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1 }));
  const value = await pool.use((r) => `used ${r.id}`);
  t.is(value, 'used 0');
  t.like(pool.stats(), { available: 1, borrowed: 0 });
  const boom = new Error('boom');
  await t.throwsAsync(pool.use(async () => { throw boom; }), { is: boom });
  t.true(f.log.created[0].destroyed, 'the resource the callback threw on was destroyed');
  t.like(pool.stats(), { destroyed: 1, borrowed: 0 });
  t.is(await pool.use((r) => r.id), 1, 'a new resource serves the next use');
});

test('pooled() wraps a function: each call borrows, passes the arguments, and gives back', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 2 }));
  const query = pooled(pool, async (client, a, b) => {
    client.uses++;
    return `${client.id}:${a + b}`;
  });
  const results = await Promise.all([query(1, 2), query(3, 4), query(5, 6)]);
  t.deepEqual(results.slice(0, 2), ['0:3', '1:7']);
  t.regex(results[2], /^[01]:11$/, 'the third call waited for one of the two');
  t.like(pool.stats(), { borrowed: 0, available: 2, created: 2 });
  const failing = pooled(pool, () => { throw new Error('bad query'); });
  await t.throwsAsync(failing(), { message: 'bad query' });
  t.like(pool.stats(), { destroyed: 1 });
  t.throws(() => pooled(pool, 'not a function'), { instanceOf: TypeError });
});

test('lease() gives a lease object whose asyncDispose releases the resource once', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1 }));
  const lease = await pool.lease();
  t.true(pool.isBorrowed(lease.resource));
  await lease[Symbol.asyncDispose]();
  t.true(lease.released);
  t.false(pool.isBorrowed(lease.resource));
  await lease[Symbol.asyncDispose](); // a second dispose is a no-op
  t.throws(() => lease.release(), { instanceOf: BerthError, code: 'ALREADY_RELEASED' });
  const second = await pool.lease();
  t.is(second.resource, lease.resource);
  await second.destroy();
  t.true(second.resource.destroyed);
  await until(() => pool.stats().size === 0, { message: 'destroyed resource gone' });
});

test('generic-pool-style gauges follow the pool', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 2, min: 0 }));
  t.is(pool.max, 2);
  t.is(pool.min, 0);
  const a = await pool.acquire();
  const b = await pool.acquire();
  const c = pool.acquire();
  t.is(pool.size, 2);
  t.is(pool.borrowed, 2);
  t.is(pool.pending, 1);
  t.is(pool.available, 0);
  t.is(pool.spareResourceCapacity, 0);
  pool.release(a);
  pool.release(await c);
  pool.release(b);
  t.is(pool.available, 2);
  t.is(pool.pending, 0);
});
