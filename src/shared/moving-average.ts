/** An exponential moving average of measured run times: each new sample weighs a fifth. */
export class MovingAverage {
  #value: number | undefined;

  /** The average so far; undefined before the first sample. */
  get value(): number | undefined {
    return this.#value;
  }

  add(sample: number): void {
    this.#value = this.#value === undefined ? sample : this.#value * 0.8 + sample * 0.2;
  }
}
