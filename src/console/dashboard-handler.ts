/**
 * The console's request handler (createDashboard, in dashboard.ts, checks the options and loads this):
 * its JSON API over the queue file's view and Gearman's admin protocol, the actions, the live overview
 * pushed as server-sent events, /metrics, and the page's files.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JobSelector, JobState } from '../backend.js';
import { GearshiftError, InvalidOptionError } from '../errors.js';
import type { FilledGearmanOptions } from '../gearman/gearman-options.js';
import type { Queue } from '../queue/queue-admin.js';
import { openQueueView, type QueueView } from '../queue/queue-view.js';
import { parseDuration } from '../shared/duration.js';
import { after, cancel, every, type Timer } from '../shared/timers.js';
import { authorized, sameOrigin, securityHeaders } from './console-security.js';
import type { Dashboard, DashboardOptions } from './dashboard.js';
import { gearmanView } from './gearman-view.js';
import { createMetrics } from './metrics.js';

/** How often the pushed overview is read again at most, and at least as many times its own cost. */
const pushEveryMs = 1000;
const pushCostFactor = 10;

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page's files: beside the bundle once built (dist/console-assets), beside this file in src. */
function assetsDirectory(): URL {
  const built = new URL('./console-assets/', import.meta.url);
  return existsSync(built) ? built : new URL('./assets/', import.meta.url);
}

/**
 * Makes the console whose options createDashboard checked: its basePath without a trailing /, its
 * Gearman options filled in.
 */
export function openDashboard(
  options: DashboardOptions,
  basePath: string,
  gearman: FilledGearmanOptions | undefined,
): Dashboard {
  const { view, queue } = options.queue === undefined ? {} : openQueueView(options.queue);
  const metrics = createMetrics({ view, gearman });
  const readOnly = options.readOnly === true;
  const assets = assetsDirectory();
  const streams = new Set<ServerResponse>();
  let pushTimer: Timer | undefined;
  /** While a page is open: looks once a second whether another process committed, and says so. */
  let watch: Timer | undefined;
  let seenVersion: number | undefined;
  let heartbeat: Timer | undefined;
  let lastPushCostMs = 0;
  let lastPush = 0;

  /** Pushes the overview to every open page, at most once a second (or ten times its cost). */
  const schedulePush = () => {
    if (pushTimer || streams.size === 0 || !view) return;
    const gap = Math.max(pushEveryMs, lastPushCostMs * pushCostFactor);
    pushTimer = after(Math.max(0, lastPush + gap - Date.now()), () => {
      pushTimer = undefined;
      const started = performance.now();
      const overview = view.overview();
      lastPushCostMs = performance.now() - started;
      lastPush = Date.now();
      const message = `event: overview\ndata: ${JSON.stringify({ readOnly, ...overview })}\n\n`;
      for (const stream of streams) stream.write(message);
    });
  };

  const openStream = (response: ServerResponse) => {
    response.writeHead(200, {
      ...securityHeaders,
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write(': the console pushes an overview when the file changes\n\n');
    streams.add(response);
    // SQLite's count of other connections' commits, read once a second, rather than the change signal's
    // watch on the file's directory: a runner's drain writes the WAL thousands of times a second, and a
    // console woken by each write cost the drain several percent (bench:console, docs/console.md).
    if (view && !watch) {
      watch = every(pushEveryMs, () => {
        const version = view.otherCommits();
        if (version === seenVersion) return;
        seenVersion = version;
        schedulePush();
      }).unref();
    }
    heartbeat ??= every(15_000, () => {
      for (const stream of streams) stream.write(': still here\n\n');
    }).unref();
    schedulePush();
    // The response's close, not the request's: a request without a body has ended as soon as it came.
    response.on('close', () => {
      streams.delete(response);
      if (streams.size === 0) {
        cancel(watch);
        watch = undefined;
        seenVersion = undefined;
        cancel(heartbeat);
        heartbeat = undefined;
      }
    });
  };

  const api = async (request: IncomingMessage, url: URL, path: string): Promise<[number, unknown]> => {
    const method = request.method ?? 'GET';
    if (method === 'GET') {
      if (path === '/api/overview') {
        return [
          200,
          {
            readOnly,
            ...(view ? view.overview() : {}),
            ...(gearman ? { gearman: await gearmanView(gearman) } : {}),
          },
        ];
      }
      if (path === '/api/throughput') return [200, { points: requireView(view).throughput() }];
      if (path === '/api/jobs') {
        const state = url.searchParams.get('state') ?? 'queued';
        return [
          200,
          requireView(view).jobs({
            state: state as JobState,
            ...optionalParam(url, 'function', 'functionName'),
            ...optionalParam(url, 'cursor', 'cursor'),
            ...(url.searchParams.has('limit') ? { limit: Number(url.searchParams.get('limit')) } : {}),
          }),
        ];
      }
      if (path === '/api/search')
        return [200, { jobs: requireView(view).find(url.searchParams.get('q') ?? '') }];
      const job = /^\/api\/jobs\/([^/]+)$/.exec(path);
      if (job) {
        const found = requireView(view).job(decodeURIComponent(job[1] as string));
        return found ? [200, found] : [404, { error: 'no such job in this file' }];
      }
      return [404, { error: `no ${path} in the console's API (docs/console.md lists it)` }];
    }
    if (method !== 'POST') return [405, { error: `${method} is not an action of the console` }];
    if (readOnly) return [403, { error: 'this console is read-only (--read-only): it offers no action' }];
    const control = requireView(view) && (queue as Queue).control;
    const body = await readJson(request);
    const action = /^\/api\/jobs\/(cancel|retry|remove)$/.exec(path);
    if (action) return [200, { count: await control[action[1] as 'cancel'](selectorOf(body)) }];
    const flag = /^\/api\/functions\/([^/]+)\/(pause|resume)$/.exec(path);
    if (flag) {
      await control[flag[2] as 'pause'](decodeURIComponent(flag[1] as string));
      return [200, { ok: true }];
    }
    if (path === '/api/purge') {
      const states = body.state === undefined ? ['completed', 'failed', 'dead', 'cancelled'] : [body.state];
      const olderThanMs = parseDuration('olderThan', body.olderThan);
      return [200, { count: await control.purge({ states: states as JobState[], olderThanMs }) }];
    }
    return [404, { error: `no ${path} in the console's API` }];
  };

  const handle = (request: IncomingMessage, response: ServerResponse, next?: () => void) => {
    const url = new URL(request.url ?? '/', 'http://console');
    if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) {
      if (next) next();
      else send(response, 404, { error: 'not the console' });
      return;
    }
    const path = url.pathname.slice(basePath.length) || '/';
    if (!authorized(request, response, url, options.authToken)) return;
    if (path === '/metrics') {
      metrics.scrape().then(
        (text) => {
          response.writeHead(200, { ...securityHeaders, 'content-type': metrics.registry.contentType });
          response.end(text);
        },
        (error: unknown) => send(response, 500, { error: String(error) }),
      );
      return;
    }
    if (path === '/api/events') {
      if (!view) send(response, 404, { error: 'live updates follow a queue file; this console has none' });
      else openStream(response);
      return;
    }
    if (path.startsWith('/api/')) {
      if (request.method === 'POST' && !sameOrigin(request, response)) return;
      api(request, url, path).then(
        ([status, body]) => {
          // An action commits through this console's own connection, which SQLite's count leaves out.
          if (request.method === 'POST') schedulePush();
          send(response, status, body);
        },
        (error: unknown) =>
          send(
            response,
            error instanceof InvalidOptionError ? 400 : error instanceof GearshiftError ? 409 : 500,
            {
              error: error instanceof Error ? error.message : String(error),
              ...(error instanceof GearshiftError ? { code: error.code } : {}),
            },
          ),
      );
      return;
    }
    if (path === '/' && !url.pathname.endsWith('/')) {
      // The page's relative links need the trailing slash.
      response.writeHead(308, { ...securityHeaders, location: `${url.pathname}/${url.search}` });
      response.end();
      return;
    }
    const file = path === '/' ? 'index.html' : path.slice(1);
    if (!/^[a-z-]+\.(html|js|css|svg)$/.test(file)) return send(response, 404, { error: 'no such page' });
    const asset = new URL(file, assets);
    if (!existsSync(asset)) return send(response, 404, { error: 'no such page' });
    response.writeHead(200, {
      ...securityHeaders,
      'content-type': contentTypes[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    });
    response.end(readFileSync(asset));
  };

  return {
    handle,
    metrics,
    async close() {
      for (const stream of streams) stream.end();
      streams.clear();
      cancel(watch);
      cancel(pushTimer);
      cancel(heartbeat);
      queue?.close();
    },
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    ...securityHeaders,
    'content-type': 'application/json',
    'cache-control': 'no-store',
  });
  response.end(JSON.stringify(body));
}

function requireView(view: QueueView | undefined): QueueView {
  if (!view)
    throw new InvalidOptionError(
      'queue',
      'a queue file given to the console, for this part of its API',
      undefined,
    );
  return view;
}

function optionalParam<K extends string>(url: URL, name: string, key: K): { [P in K]?: string } {
  const value = url.searchParams.get(name);
  return (value === null || value === '' ? {} : { [key]: value }) as { [P in K]?: string };
}

/** An action's selector: `handles`, or `functionName` with an optional `state`. */
function selectorOf(body: Record<string, unknown>): JobSelector {
  if (Array.isArray(body.handles)) return body.handles as string[];
  if (typeof body.functionName === 'string') {
    return {
      functionName: body.functionName,
      ...(body.state === undefined ? {} : { state: body.state as JobState }),
    };
  }
  throw new InvalidOptionError(
    'body',
    '{ "handles": [...] } or { "functionName": "...", "state": "..." }',
    body,
  );
}

/** Reads a JSON body of at most 1 MiB. */
async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new InvalidOptionError('body', 'at most 1 MiB of JSON', `${size} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {}
  throw new InvalidOptionError('body', 'a JSON object', 'something else');
}
