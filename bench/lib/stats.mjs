/**
 * @module stats
 * A log-bucket latency histogram (1% resolution, constant memory) so a
 * scenario can record millions of deliveries without keeping them.
 */

const GROWTH = 1.01;
const K = 1 / Math.log(GROWTH);
/** Buckets cover 1 µs .. about 10 minutes. */
const BUCKETS = Math.ceil(Math.log(600e6) * K) + 2;

export class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** @param {number} ms */
  record(ms) {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) * K) + 1);
    this.counts[i]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** @param {Histogram} other */
  merge(other) {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /**
   * Value below which a fraction q of the samples fall, in ms (bucket midpoint).
   * @param {number} q
   * @returns {number | null}
   */
  quantile(q) {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        if (i === 0) return 0.001;
        // Geometric midpoint of [GROWTH^(i-1), GROWTH^i) µs, in ms, capped by the true max.
        return Math.min(this.max, Math.pow(GROWTH, i - 0.5) / 1000);
      }
    }
    return this.max;
  }

  summary() {
    return {
      n: this.count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.count ? this.max : null,
      mean: this.count ? this.sum / this.count : null,
    };
  }
}
