/**
 * A Gearman client written with node:net and nothing else, as strict as the strictest npm library: it
 * matches a job's packets to its handle byte for byte, asks for the "exceptions" option only when told,
 * and frames packets itself (not with the codec under test). For what any client, whatever its library,
 * hears of a gearshift worker's jobs.
 */
import { connect } from 'node:net';

/** A packet a server sent, as a client library would see it. */
export interface SeenPacket {
  readonly type: number;
  readonly name: string;
  /** The first argument (the handle) exactly as sent, NUL bytes and all. */
  readonly handle: string;
  /** What follows the handle (a result, a warning's text, an exception's text). */
  readonly data: string;
}

const names: Readonly<Record<number, string>> = {
  8: 'JOB_CREATED',
  12: 'WORK_STATUS',
  13: 'WORK_COMPLETE',
  14: 'WORK_FAIL',
  19: 'ERROR',
  25: 'WORK_EXCEPTION',
  27: 'OPTION_RES',
  28: 'WORK_DATA',
  29: 'WORK_WARNING',
};
/** Packets that end a job for a client: its end is one of these, with the job's own handle. */
const ends = new Set(['WORK_COMPLETE', 'WORK_FAIL', 'WORK_EXCEPTION']);

function request(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.write('\0REQ', 0, 'latin1');
  header.writeUInt32BE(type, 4);
  header.writeUInt32BE(body.length, 8);
  return Buffer.concat([header, body]);
}

/**
 * Submits one foreground job (SUBMIT_JOB) and resolves with every packet seen once a packet whose
 * handle is exactly the job's ends it; rejects after `timeoutMs` with what it saw instead (a caller that
 * would wait for ever).
 */
export function submitBare(
  address: string,
  functionName: string,
  payload: Buffer,
  options: { exceptions?: boolean; timeoutMs?: number } = {},
): Promise<{ handle: string; packets: SeenPacket[]; end: SeenPacket }> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host);
    const packets: SeenPacket[] = [];
    let handle: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no end of the job within ${options.timeoutMs ?? 10_000} ms; saw ${JSON.stringify(packets.map((packet) => [packet.name, packet.handle]))}`,
        ),
      );
    }, options.timeoutMs ?? 10_000);
    if (options.exceptions) socket.write(request(26, Buffer.from('exceptions')));
    socket.write(request(7, Buffer.concat([Buffer.from(`${functionName}\0\0`), payload])));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 12 && pending.length >= 12 + pending.readUInt32BE(8)) {
        const type = pending.readUInt32BE(4);
        const body = pending.subarray(12, 12 + pending.readUInt32BE(8));
        pending = pending.subarray(12 + body.length);
        const name = names[type] ?? String(type);
        // Packets with data after the handle separate them with a NUL; the others are the handle alone.
        const split = [
          'WORK_DATA',
          'WORK_WARNING',
          'WORK_EXCEPTION',
          'WORK_COMPLETE',
          'WORK_STATUS',
        ].includes(name)
          ? body.indexOf(0)
          : -1;
        const packet: SeenPacket = {
          type,
          name,
          handle: (split === -1 ? body : body.subarray(0, split)).toString('latin1'),
          data: split === -1 ? '' : body.subarray(split + 1).toString('utf8'),
        };
        packets.push(packet);
        if (name === 'JOB_CREATED') handle = packet.handle;
        else if (ends.has(name) && packet.handle === handle) {
          clearTimeout(timer);
          socket.destroy();
          resolve({ handle, packets, end: packet });
        }
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Submits a background job (SUBMIT_JOB_BG) with the payload as given; resolves with its handle. */
export function submitBareBackground(
  address: string,
  functionName: string,
  payload: Buffer,
): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host);
    socket.write(request(18, Buffer.concat([Buffer.from(`${functionName}\0\0`), payload])));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length >= 12 && pending.length >= 12 + pending.readUInt32BE(8)) {
        socket.destroy();
        resolve(pending.subarray(12, 12 + pending.readUInt32BE(8)).toString('latin1'));
      }
    });
    socket.on('error', reject);
  });
}
