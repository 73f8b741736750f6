/**
 * A map that remembers only its latest entries: past `capacity`, setting a new key forgets the entry set
 * longest ago. For what is remembered "just in case" per job (which server made a handle, which jobs
 * were cancelled before they came), where the count must stay bounded however many jobs pass.
 *
 * Not a Map trimmed through `keys().next()`: V8 leaves a deleted entry in place until the table is
 * rebuilt, and an iterator walks past every one of them, so trimming a busy Map that way cost about 7 us
 * per entry at 10,000 entries (measured), more than the rest of a background submission's own work.
 */
export class BoundedMap<K, V> {
  readonly #capacity: number;
  /** Each entry with the slot of the ring that holds its key. */
  readonly #entries = new Map<K, { value: V; slot: number }>();
  /** The keys in the order they were set, as a ring: the next slot to fill holds the oldest. */
  readonly #ring: (K | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#ring = new Array<K | undefined>(capacity);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Sets `key` as the newest entry, forgetting the oldest when the map is full. */
  set(key: K, value: V): void {
    const slot = this.#next;
    const oldest = this.#ring[slot];
    // The slot's key may since have been deleted, or set again (then a newer slot holds it).
    if (oldest !== undefined && this.#entries.get(oldest)?.slot === slot) this.#entries.delete(oldest);
    this.#ring[slot] = key;
    this.#next = (slot + 1) % this.#capacity;
    this.#entries.set(key, { value, slot });
  }

  /** Forgets `key`; whether it was there. */
  delete(key: K): boolean {
    return this.#entries.delete(key);
  }
}
