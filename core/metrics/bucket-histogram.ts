// A histogram with one label whose values are known up front, counted in plain typed arrays and
// handed to the prom-client registry as a metric of its own. prom-client's labelled observe()
// hashes the labels and looks the bucket up by its string key on every call (about a microsecond);
// the store handlers observe once per request, where that is a measurable share of a small GET.
import type { Metric, Registry } from 'prom-client';

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: string[];
  private readonly counts: Float64Array; // per label value: one slot per bound, then +Inf
  private readonly sums: Float64Array;
  private readonly totals: Float64Array;
  private readonly width: number;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    labelName: string,
    private readonly labelValues: readonly string[],
    registry: Registry,
  ) {
    this.labelNames = [labelName];
    this.width = bounds.length + 1;
    this.counts = new Float64Array(labelValues.length * this.width);
    this.sums = new Float64Array(labelValues.length);
    this.totals = new Float64Array(labelValues.length);
    registry.registerMetric(this as unknown as Metric);
  }

  /** Records `value` under the label value at `index`. */
  observe(index: number, value: number): void {
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && value > bounds[b]) b++;
    this.counts[index * this.width + b]++;
    this.sums[index] += value;
    this.totals[index]++;
  }

  /** The registry's view: cumulative buckets, sum and count of each label value seen. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const label = this.labelNames[0];
    const values: Value[] = [];
    for (let i = 0; i < this.labelValues.length; i++) {
      if (this.totals[i] === 0) continue;
      const lv = this.labelValues[i];
      let acc = 0;
      for (let b = 0; b < this.width; b++) {
        acc += this.counts[i * this.width + b];
        const le = b < this.bounds.length ? this.bounds[b] : '+Inf';
        values.push({ labels: { [label]: lv, le }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { [label]: lv }, value: this.sums[i], metricName: `${this.name}_sum` });
      values.push({ labels: { [label]: lv }, value: this.totals[i], metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
