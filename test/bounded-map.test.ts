/** BoundedMap: what stays remembered, and what is forgotten first, as entries come and go. */
import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/shared/bounded-map.js';

describe('BoundedMap', () => {
  it('keeps the latest `capacity` entries and forgets the oldest first', () => {
    const map = new BoundedMap<string, number>(3);
    for (const [index, key] of ['a', 'b', 'c', 'd', 'e'].entries()) map.set(key, index);
    expect(map.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((key) => map.get(key))).toEqual([undefined, undefined, 2, 3, 4]);
  });

  it('a key set again counts from its latest set, and keeps its latest value', () => {
    const map = new BoundedMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 3);
    map.set('c', 4);
    // 'b' is now the oldest: 'a' was set after it.
    map.set('d', 5);
    expect(map.has('b')).toBe(false);
    expect(map.get('a')).toBe(3);
    expect(map.size).toBe(3);
  });

  it('a key deleted and set again is not forgotten when its old place is filled', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    map.set('a', 2);
    // The first place still names 'a' from its first set; filling it again must not drop the 'a' set since.
    map.set('b', 3);
    expect(map.get('a')).toBe(2);
    expect(map.get('b')).toBe(3);
    expect(map.size).toBe(2);
  });

  it('stays bounded however many keys pass', () => {
    const map = new BoundedMap<number, number>(1000);
    for (let key = 0; key < 100_000; key++) map.set(key, key);
    expect(map.size).toBe(1000);
    expect(map.get(99_000)).toBe(99_000);
    expect(map.get(98_999)).toBeUndefined();
  });
});
