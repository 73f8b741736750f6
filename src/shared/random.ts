/**
 * Random ids and the hash of a unique, without node:crypto at import: loading it costs about 8 ms, paid
 * by every process and every worker thread that imports this package, though only queue runners and
 * Gearman clients and workers need it. Web Crypto (`globalThis.crypto`) loads on first use.
 */
import { createRequire } from 'node:module';

/** A random UUID (queue runner ids, Gearman uniques). */
export function randomId(): string {
  return globalThis.crypto.randomUUID();
}

/** `bytes` random bytes as hexadecimal. */
export function randomHex(bytes: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}

/**
 * Random words for lease tokens, drawn 256 at a time: one call of getRandomValues took 4 us in a tight
 * loop and 26 us on a claim's way (a claim takes a token before every job it starts), where a word from
 * the pool costs nothing.
 */
const tokenWords = new Uint32Array(256);
let tokenWordsUsed = tokenWords.length;

/** A random whole number from 0 up to (not including) 2^47: a lease token. */
export function randomToken(): number {
  if (tokenWordsUsed === tokenWords.length) {
    globalThis.crypto.getRandomValues(tokenWords);
    tokenWordsUsed = 0;
  }
  const high = tokenWords[tokenWordsUsed++] as number;
  const low = tokenWords[tokenWordsUsed++] as number;
  return (high & 0x7fff) * 2 ** 32 + low;
}

/** The first 32 bits of a text's MD5: where a unique goes among servers, the same in every client. */
export function hash32(text: string): number {
  const { createHash } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return createHash('md5').update(text).digest().readUInt32BE(0);
}
