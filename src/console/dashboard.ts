/**
 * The console: a web page over a queue file (and Gearman job servers), served by a request handler
 * that mounts under a path in any node:http server (Express, Fastify's raw handler) or stands alone
 * (`gearshift dashboard`). The page is a client of the JSON API documented in docs/console.md; live
 * updates are pushed to it (server-sent events driven by the file's change signal); every asset comes
 * from the package, with no build step and no CDN. Metrics in Prometheus text at `/metrics`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors.js';
import { fillGearmanOptions, type GearmanOptions } from '../gearman/gearman-options.js';
import { importOwn } from '../shared/import-own.js';
import type { Metrics } from './metrics.js';

/** What a console shows, and who may do what with it. */
export interface DashboardOptions {
  /** The queue file to show (it must exist: the console creates nothing). */
  readonly queue?: string;
  /** Gearman job servers to show, from their admin protocol. */
  readonly gearman?: GearmanOptions;
  /** A token every request must carry; needed to listen anywhere but on loopback. */
  readonly authToken?: string;
  /** Shows, and offers no action (cancel, retry, remove, pause, resume, purge). @default false */
  readonly readOnly?: boolean;
  /** The path the console is mounted under, as `/admin/jobs`. @default '/' */
  readonly basePath?: string;
}

/** A console, as a request handler. */
export interface Dashboard {
  /**
   * Answers a request under the console's path; calls `next` (when given) for any other path, or
   * answers 404.
   */
  readonly handle: (request: IncomingMessage, response: ServerResponse, next?: () => void) => void;
  /** Its Prometheus registry (the same `/metrics` answers). */
  readonly metrics: Metrics;
  /** Ends its live streams and closes the file. */
  close(): Promise<void>;
}

/**
 * Makes a console: checks the options at once (an InvalidOptionError is thrown, not returned), then
 * loads the console's code and opens the queue file (which must exist), and nothing else until asked.
 */
export function createDashboard(options: DashboardOptions): Promise<Dashboard> {
  const basePath = (options.basePath ?? '/').replace(/\/+$/, '');
  if (basePath !== '' && !basePath.startsWith('/'))
    throw new InvalidOptionError('basePath', 'a path that starts with /', options.basePath);
  if (options.queue === undefined && options.gearman === undefined)
    throw new InvalidOptionError('queue', 'a queue file, or gearman servers, or both, to show', undefined);
  if (
    options.authToken !== undefined &&
    (typeof options.authToken !== 'string' || options.authToken.length < 8)
  )
    throw new InvalidOptionError('authToken', 'a string of at least 8 characters', options.authToken, {
      secret: true,
    });
  const gearman = options.gearman && fillGearmanOptions(options.gearman);
  // The console's code (and the queue file's) loads here, not with the package.
  return importOwn(
    () => import('./dashboard-handler.js'),
    new URL('./dashboard-handler.ts', import.meta.url),
  ).then(({ openDashboard }) => openDashboard(options, basePath, gearman));
}
