/** A loopback TCP server that answers each connection after a delay: a stand-in for a slow database. */
import { connect, createServer, type Server } from 'node:net';

/** Starts the server on a free loopback port. */
export async function startSlowServer(
  delayMs: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((socket) => {
    const timer = setTimeout(() => socket.end('done'), delayMs);
    socket.on('close', () => clearTimeout(timer));
    socket.on('error', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the slow server has no port');
  return { port: address.port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Connects, then resolves with the server's reply (the server decides how long that takes). */
export function waitForReply(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
  });
}
