// The peers' acquire→release loops, shared by the suites that race berth against them
// (acquire.mjs, resource.mjs), with the batch sizes both use. One function per library and
// shape, as the suites' own: a loop only ever sees pools of its one library.

export const SERIAL_CYCLES = 1000; // cycles per benny op in case (a)
export const CALLERS = 100; // concurrent callers in case (b)
export const CYCLES_PER_CALLER = 20; // cycles each caller does per benny op in case (b)

// ---------------------------------------------------------------- generic-pool

export async function gpSerial(pool) {
  for (let i = 0; i < SERIAL_CYCLES; i++) {
    const r = await pool.acquire();
    pool.release(r);
  }
}

export async function gpCaller(pool) {
  for (let i = 0; i < CYCLES_PER_CALLER; i++) {
    const r = await pool.acquire();
    pool.release(r);
  }
}

export function gpConcurrent(pool) {
  const callers = new Array(CALLERS);
  for (let c = 0; c < CALLERS; c++) callers[c] = gpCaller(pool);
  return Promise.all(callers);
}

// ---------------------------------------------------------------- tarn

export async function tarnSerial(pool) {
  for (let i = 0; i < SERIAL_CYCLES; i++) {
    const r = await pool.acquire().promise;
    pool.release(r);
  }
}

export async function tarnCaller(pool) {
  for (let i = 0; i < CYCLES_PER_CALLER; i++) {
    const r = await pool.acquire().promise;
    pool.release(r);
  }
}

export function tarnConcurrent(pool) {
  const callers = new Array(CALLERS);
  for (let c = 0; c < CALLERS; c++) callers[c] = tarnCaller(pool);
  return Promise.all(callers);
}
