/**
 * Opening a socket to a job server: TCP or TLS, with a connect timeout and TCP keepalive. node:net and
 * node:tls load on the first connection (about 7 ms together): a process, or a worker thread, that
 * imports this package and never talks to a job server does not pay for them.
 */
import type { Socket } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { GearmanConnectionError } from '../errors.js';
import { after, cancel } from '../shared/timers.js';
import type { ServerAddress } from './server-address.js';

/** How sockets to job servers are opened. */
export interface SocketOptions {
  /** Milliseconds a connection may take to open (TLS handshake included). */
  readonly connectTimeoutMs: number;
  /** Milliseconds of silence before TCP keepalive probes start; 0 turns keepalive off. */
  readonly keepAliveMs: number;
  /** TLS options (node:tls): `ca`, `cert` and `key` for client certificates, `servername`... */
  readonly tls: TlsOptions | undefined;
}

/** Opens a socket and resolves once it is connected (and, with TLS, once the handshake is done). */
export async function openSocket(server: ServerAddress, options: SocketOptions): Promise<Socket> {
  const { host, port } = server;
  const socket = options.tls
    ? (await import('node:tls')).connect({ host, port, ...options.tls })
    : (await import('node:net')).connect({ host, port });
  return new Promise((resolve, reject) => {
    const ready = options.tls ? 'secureConnect' : 'connect';
    const fail = (problem: string, cause?: unknown) => {
      cancel(timer);
      socket.destroy();
      reject(new GearmanConnectionError(server.label, problem, cause));
    };
    const timer = after(options.connectTimeoutMs, () =>
      fail(`did not connect within ${options.connectTimeoutMs} ms`),
    );
    socket.once('error', (error: NodeJS.ErrnoException) => {
      fail(`cannot be reached: ${error.code ?? ''} ${error.message}`.replace(/\s+/g, ' ').trim(), error);
    });
    socket.once(ready, () => {
      cancel(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      if (options.keepAliveMs > 0) socket.setKeepAlive(true, options.keepAliveMs);
      resolve(socket);
    });
  });
}
