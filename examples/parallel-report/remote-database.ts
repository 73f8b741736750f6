/**
 * A stand-in for the seed's remote databases: a server on loopback that answers a shop's totals query
 * against the shop's real database file, and holds each answer until `latencyMs` after the question
 * came in, as a database across a network and under load would. The query is real; only the wait is
 * made up, and the demo says so.
 *
 * Protocol: one JSON line in (`{"shop":"shop-01.db"}`), one JSON line out (`{"orders":..,"revenueCents":..}`).
 */
import { createServer, type Server, type Socket } from 'node:net';
import Database from 'better-sqlite3';

/** A running stand-in server. */
export interface RemoteDatabase {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the server on a free loopback port; `files` maps a shop's name to its database file. */
export async function startRemoteDatabase(
  files: ReadonlyMap<string, string>,
  latencyMs: number,
): Promise<RemoteDatabase> {
  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    const askedAt = performance.now();
    let question = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      question += chunk;
      if (!question.includes('\n')) return;
      const { shop } = JSON.parse(question) as { shop: string };
      const answer = totals(files.get(shop));
      const wait = Math.max(0, latencyMs - (performance.now() - askedAt));
      setTimeout(() => socket.end(`${JSON.stringify(answer)}\n`), wait);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the stand-in server has no port');
  return {
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // A client that has its answer may not have hung up yet: the demo is over, so hang up on it.
        for (const socket of connections) socket.destroy();
      }),
  };
}

function totals(path: string | undefined): { orders: number; revenueCents: number } | { error: string } {
  if (path === undefined) return { error: 'no such shop' };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT COUNT(*) AS orders, SUM(quantity * unit_price_cents) AS revenueCents FROM sales')
      .get() as { orders: number; revenueCents: number };
    return { orders: row.orders, revenueCents: row.revenueCents };
  } finally {
    db.close();
  }
}
