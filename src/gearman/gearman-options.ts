/** The `gearman` option of createClient and createWorker: its fields, defaults and checks. */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { InvalidOptionError } from '../errors.js';
import { checkMilliseconds, checkObject } from '../shared/validate.js';
import type { ConnectionOptions } from './connection.js';
import { parseServerAddress, type ServerAddress } from './server-address.js';

/** The largest packet either way, and the largest admin answer, unless `maxPacketBytes` says: 64 MiB. */
export const defaultMaxPacketBytes = 64 * 1024 * 1024;

/** How to reach a Gearman cluster. */
export interface GearmanOptions {
  /**
   * The job servers: addresses as `host:port` (port 4730 when left out), as a list or comma-separated.
   * @example ['10.0.0.5:4730', '10.0.0.6:4730']
   */
  readonly servers: readonly string[] | string;
  /** Milliseconds a connection may take to open (TLS handshake included). @default 5000 */
  readonly connectTimeoutMs?: number;
  /**
   * Milliseconds a server may take to answer a request (JOB_CREATED, STATUS_RES, an admin command); a
   * server that does not is treated as gone, and unacknowledged submissions go to another server.
   * @default 10000
   */
  readonly requestTimeoutMs?: number;
  /** Milliseconds of silence before TCP keepalive probes start; 0 turns keepalive off. @default 10000 */
  readonly keepAliveMs?: number;
  /**
   * The largest packet, in bytes, either way: a larger one from a server is a GearmanProtocolError (and
   * is not read); a larger input (client) or result (worker) fails its job with a PayloadError, unsent.
   * @default 64 MiB
   */
  readonly maxPacketBytes?: number;
  /**
   * Milliseconds before a server that failed is tried again: the n-th try waits between half and all of
   * retryMs x 2^(n-1), up to 30 s (the jitter keeps clients that lost a server together from returning
   * together). @default 1000
   */
  readonly retryMs?: number;
  /**
   * Milliseconds a submission (`run`, `runAll`, `background`) may wait for a server when every server is
   * down, trying again every 100 ms, before it fails with a GearmanConnectionError: a client of a lone
   * gearmand then rides out its restart. 0 fails at once. Counted from the submission; a last attempt
   * may add up to connectTimeoutMs.
   * @default 0
   */
  readonly waitForServerMs?: number;
  /** TLS (node:tls options): `ca` to trust, `cert` and `key` for a client certificate, `servername`. */
  readonly tls?: TlsOptions;
}

/** The options with every default filled in. */
export interface FilledGearmanOptions extends ConnectionOptions {
  readonly servers: readonly ServerAddress[];
  readonly requestTimeoutMs: number;
  readonly retryMs: number;
  readonly maxRetryMs: number;
  readonly waitForServerMs: number;
}

/** Checks the `gearman` option and fills in its defaults. */
export function fillGearmanOptions(options: GearmanOptions): FilledGearmanOptions {
  checkObject('gearman', options);
  const specs = typeof options.servers === 'string' ? options.servers.split(',') : options.servers;
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new InvalidOptionError(
      'gearman.servers',
      'a list of server addresses, at least one',
      options.servers,
    );
  }
  const { tls } = options;
  if (tls !== undefined && (typeof tls !== 'object' || tls === null || Array.isArray(tls))) {
    // A key or certificate passed where the options object belongs must not end up in a log.
    throw new InvalidOptionError('gearman.tls', 'an object of node:tls options ({ ca, cert, key })', tls, {
      secret: true,
    });
  }
  const maxPacketBytes = options.maxPacketBytes ?? defaultMaxPacketBytes;
  if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 1024) {
    throw new InvalidOptionError(
      'gearman.maxPacketBytes',
      'a whole number of bytes from 1024 up',
      maxPacketBytes,
    );
  }
  return {
    servers: specs.map((spec) => parseServerAddress(spec)),
    connectTimeoutMs: checkMilliseconds('gearman.connectTimeoutMs', options.connectTimeoutMs ?? 5000, 1),
    requestTimeoutMs: checkMilliseconds('gearman.requestTimeoutMs', options.requestTimeoutMs ?? 10_000, 1),
    keepAliveMs: checkMilliseconds('gearman.keepAliveMs', options.keepAliveMs ?? 10_000, 0),
    retryMs: checkMilliseconds('gearman.retryMs', options.retryMs ?? 1000, 1),
    maxRetryMs: 30_000,
    waitForServerMs: checkMilliseconds('gearman.waitForServerMs', options.waitForServerMs ?? 0, 0),
    maxPacketBytes,
    tls,
  };
}
