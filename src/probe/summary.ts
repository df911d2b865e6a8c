/** `run.summary()`: counts by state and round-trip percentiles, in bounded memory. */

/** Round-trip times of the targets that answered, in milliseconds (all 0 when none did). */
export interface ProbeRttSummary {
  /** The median, in milliseconds. */
  p50: number;
  /** The 95th percentile, in milliseconds. */
  p95: number;
  /** The 99th percentile, in milliseconds. */
  p99: number;
  /** The largest, in milliseconds (exact). */
  max: number;
}

/** What `run.summary()` returns: counts by state and round-trip times of the results seen so far. */
export interface ProbeSummary {
  /** Results seen so far (yielded by the iterator). */
  total: number;
  /** Results seen so far, by state (they add up to `total`). */
  byState: {
    /** Results in state `'open'`. */
    open: number;
    /** Results in state `'closed'`. */
    closed: number;
    /** Results in state `'filtered'`. */
    filtered: number;
    /** Results in state `'error'`. */
    error: number;
  };
  /**
   * Over the `'open'` and `'closed'` results (the targets that answered: a `'filtered'` one
   * took the timeout, an `'error'` one made no round trip). Percentiles by nearest rank, within
   * 1% of the exact value (a log-linear histogram keeps memory constant however many
   * results); `max` is exact.
   */
  rttMs: ProbeRttSummary;
  /** From the run's start (the first `next()`) to its end, or to now while it runs. */
  durationMs: number;
}

/** Values below this many microseconds have a bucket each. */
const LINEAR = 256;
/** Buckets per power of two above it: a relative width of 1/128. */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Largest value kept apart (about 12.7 days in µs); beyond it values share the last bucket. */
const MAX_SHIFT = 33;
const BUCKETS = LINEAR + MAX_SHIFT * SUB;

function bucketOf(us: number): number {
  if (us < LINEAR) return us;
  let e = Math.floor(Math.log2(us));
  if (2 ** e > us) e--;
  else if (2 ** (e + 1) <= us) e++;
  const shift = e - SUB_BITS;
  if (shift > MAX_SHIFT) return BUCKETS - 1;
  return LINEAR + (shift - 1) * SUB + (Math.floor(us / 2 ** shift) - SUB);
}

/** The middle of a bucket, in microseconds. */
function bucketValue(bucket: number): number {
  if (bucket < LINEAR) return bucket;
  const shift = Math.floor((bucket - LINEAR) / SUB) + 1;
  const m = ((bucket - LINEAR) % SUB) + SUB;
  return m * 2 ** shift + (2 ** shift - 1) / 2;
}

/** Round-trip times in integer microseconds: counts per bucket, and the exact maximum. */
export class RttHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #n = 0;
  #max = 0;

  record(rttUs: number): void {
    const us = Math.max(0, Math.round(rttUs));
    this.#counts[bucketOf(us)]!++;
    this.#n++;
    if (us > this.#max) this.#max = us;
  }

  summary(): ProbeRttSummary {
    if (this.#n === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
    const [p50, p95, p99] = this.#percentiles([0.5, 0.95, 0.99]);
    return { p50: p50! / 1000, p95: p95! / 1000, p99: p99! / 1000, max: this.#max / 1000 };
  }

  /** Nearest rank: the value of the ceil(q * n)-th smallest sample, for ascending `qs`. */
  #percentiles(qs: number[]): number[] {
    const out: number[] = [];
    let seen = 0;
    let q = 0;
    for (let b = 0; b < BUCKETS && q < qs.length; b++) {
      seen += this.#counts[b]!;
      while (q < qs.length && seen >= Math.max(1, Math.ceil(qs[q]! * this.#n))) {
        out.push(Math.min(bucketValue(b), this.#max));
        q++;
      }
    }
    return out;
  }
}
