/**
 * The console and the metrics on servers of their own: what `gearshift dashboard` and `gearshift
 * metrics` run. Neither listens beyond loopback without a token: the console can act on jobs, and the
 * metrics name every function.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../errors.js';
import { fillGearmanOptions, type GearmanOptions } from '../gearman/gearman-options.js';
import { openQueueView } from '../queue/queue-view.js';
import { authorized, securityHeaders } from './console-security.js';
import { createDashboard, type DashboardOptions } from './dashboard.js';
import { createMetrics } from './metrics.js';

/** A server this module started. */
export interface Served {
  /** Where it answers: the console's page, or its metrics. */
  readonly url: string;
  close(): Promise<void>;
}

/** A console on its own server (what `gearshift dashboard` runs). */
/**
 * Serves a console on `listen` (`host:port`; port 0 for a free one). Refuses an address other than
 * loopback without an `authToken`: the console can act on jobs.
 */
export async function serveDashboard(
  options: DashboardOptions & { readonly listen: string },
): Promise<Served> {
  const [host, port] = checkedListen(
    options.listen,
    options.authToken,
    'anyone who reaches it could act on jobs',
  );
  const dashboard = await createDashboard(options);
  const server = createServer((request, response) => dashboard.handle(request, response));
  const origin = await listenOn(server, host, port);
  return {
    url: `${origin}${(options.basePath ?? '/').replace(/\/?$/, '/')}`,
    async close() {
      await dashboard.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `host:port`, `[::1]:port` or a port alone (on 127.0.0.1). */
export function splitListen(listen: string): [string, number] {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65_535)
    throw new InvalidOptionError('listen', 'host:port, such as 127.0.0.1:8080', listen);
  return [match[1] ?? (match[2] || '127.0.0.1'), port];
}

/** The host and port of `listen`, refused beyond loopback without a token (`why`: what a stranger would get). */
function checkedListen(listen: string, authToken: string | undefined, why: string): [string, number] {
  const [host, port] = splitListen(listen);
  if (!isLoopback(host) && authToken === undefined) {
    throw new InvalidOptionError(
      'listen',
      `a loopback address (127.0.0.1, ::1, localhost) unless an authToken is given: ${why}`,
      listen,
    );
  }
  return [host, port];
}

/** Listens, and answers the origin it listens on (`http://host:port`, the port chosen when 0). */
async function listenOn(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Serves Prometheus text at `/metrics` on `listen`, for a queue file and Gearman servers. */
export async function serveMetrics(options: {
  readonly queue?: string;
  readonly gearman?: GearmanOptions;
  readonly listen: string;
  readonly authToken?: string;
}): Promise<Served> {
  const [host, port] = checkedListen(options.listen, options.authToken, 'they name every function');
  if (options.queue === undefined && options.gearman === undefined)
    throw new InvalidOptionError('queue', 'a queue file, or gearman servers, or both, to measure', undefined);
  const { view, queue } = options.queue === undefined ? {} : openQueueView(options.queue);
  const metrics = createMetrics({ view, gearman: options.gearman && fillGearmanOptions(options.gearman) });
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://metrics');
    if (!authorized(request, response, url, options.authToken)) return;
    if (url.pathname !== '/metrics') {
      response.writeHead(404, { ...securityHeaders, 'content-type': 'text/plain' });
      response.end('the metrics are at /metrics\n');
      return;
    }
    metrics.scrape().then(
      (text) => {
        response.writeHead(200, { ...securityHeaders, 'content-type': metrics.registry.contentType });
        response.end(text);
      },
      (error: unknown) => {
        response.writeHead(500, { ...securityHeaders, 'content-type': 'text/plain' });
        response.end(`${String(error)}\n`);
      },
    );
  });
  const origin = await listenOn(server, host, port);
  return {
    url: `${origin}/metrics`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      queue?.close();
    },
  };
}
