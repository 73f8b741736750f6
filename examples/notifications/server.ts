/**
 * The notifications example's HTTP service (node:http):
 *
 *   POST /notifications  {"userIds": [...], "message": "..."}  (or {"users": 2000, ...}; "pauseMs": N
 *        after each batch of 20, as a real push service's answer would take)
 *        queues one background job for all the users and answers 202 with its handle, in milliseconds
 *   GET  /notifications/<handle>
 *        the job's state and progress, from the queue file
 *
 * The process also runs the queue's jobs (the embedded runner); start it with `runner: false` and run
 * `gearshift work examples/notifications/functions.ts --queue <file>` to send from another process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '../../src/index.js';
import type functions from './functions.js';

export interface NotificationServerOptions {
  readonly queue: string;
  readonly outbox: string;
  /** Whether this process also sends (runs the queue's jobs). @default true */
  readonly runner?: boolean;
  /** @default 0, a free port */
  readonly port?: number;
}

export interface NotificationServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startNotificationServer(
  options: NotificationServerOptions,
): Promise<NotificationServer> {
  const gs = createClient<typeof functions>({
    functions: new URL('./functions.js', import.meta.url),
    threads: 1,
    queue: { path: options.queue, runner: options.runner !== false },
  });
  // Jobs left from before a restart start now, not at the first request.
  await gs.start();

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => reply(response, 500, { error: String(error) }));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'POST' && url.pathname === '/notifications') {
      const body = await readJson(request);
      const userIds = Array.isArray(body.userIds)
        ? body.userIds
        : Array.from({ length: Number(body.users ?? 0) }, (_, index) => index + 1);
      if (userIds.length === 0 || typeof body.message !== 'string') {
        return reply(response, 400, {
          error: 'expected {"userIds": [1, 2, ...] or "users": N, "message": "..."}',
        });
      }
      const handle = await gs.background('sendPush', {
        userIds,
        message: body.message,
        outbox: options.outbox,
        ...(typeof body.pauseMs === 'number' ? { pauseMs: body.pauseMs } : {}),
      });
      return reply(response, 202, { handle, status: `/notifications/${encodeURIComponent(handle)}` });
    }
    const match = /^\/notifications\/(.+)$/.exec(url.pathname);
    if (request.method === 'GET' && match) {
      const status = await gs.status(decodeURIComponent(match[1] as string));
      if (!status.known) return reply(response, 404, { error: 'no such job' });
      const { state, numerator, denominator, attempts, result, lastError } = status;
      return reply(response, 200, {
        state,
        progress: { sent: numerator, of: denominator },
        attempts,
        result,
        lastError,
      });
    }
    reply(response, 404, { error: 'POST /notifications or GET /notifications/<handle>' });
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await gs.close();
    },
  };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
