/**
 * The operator's view of a job server, over the text admin protocol: what `gearshift status --gearman`
 * shows, and `cancel job` for the client. One short connection per command, as gearadmin does.
 */
import { GearmanConnectionError, GearmanProtocolError, GearmanServerError } from '../errors.js';
import { after, cancel } from '../shared/timers.js';
import {
  type AdminCommand,
  answersWithList,
  encodeAdminCommand,
  type JobLine,
  LineReader,
  maxAdminAnswerBytes,
  type PriorityStatusLine,
  parseErrorLine,
  parseJobLine,
  parsePriorityStatusLine,
  parseStatusLine,
  parseWorkerLine,
  type StatusLine,
  type WorkerLine,
} from './protocol/admin-text.js';
import type { ServerAddress } from './server-address.js';
import { openSocket, type SocketOptions } from './socket.js';

/** What an admin command needs of the gearman options. */
export type AdminOptions = SocketOptions & { readonly requestTimeoutMs: number };

/**
 * Sends one admin command; resolves with its answer's lines (without the closing `.` of a list). An
 * answer over 16 MiB, or with a line over a mebibyte, is a GearmanProtocolError: a server that never
 * stops answering cannot fill the memory (gearmand's `status` of 100,000 functions is about 3 MiB).
 */
export async function adminCommand(
  server: ServerAddress,
  options: AdminOptions,
  command: AdminCommand,
): Promise<string[]> {
  const socket = await openSocket(server, options);
  return new Promise((resolve, reject) => {
    const list = answersWithList(command);
    const reader = new LineReader();
    const lines: string[] = [];
    let received = 0;
    const finish = (error?: Error) => {
      cancel(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(lines);
    };
    const timer = after(options.requestTimeoutMs, () =>
      finish(
        new GearmanConnectionError(
          server.label,
          `did not answer "${command.name}" within ${options.requestTimeoutMs} ms`,
        ),
      ),
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += Buffer.byteLength(chunk);
      let complete: string[];
      try {
        if (received > maxAdminAnswerBytes) throw new RangeError(`more than ${maxAdminAnswerBytes} bytes`);
        complete = reader.push(chunk);
      } catch (error) {
        return finish(
          new GearmanProtocolError(
            `its answer to "${command.name}" holds ${(error as Error).message}`,
            server.label,
          ),
        );
      }
      for (const line of complete) {
        const error = lines.length === 0 ? parseErrorLine(line) : undefined;
        if (error) return finish(new GearmanServerError(server.label, error.code, error.text));
        if (list && line === '.') return finish();
        lines.push(line);
        if (!list) return finish();
      }
    });
    socket.on('error', (error) =>
      finish(new GearmanConnectionError(server.label, `failed: ${error.message}`, error)),
    );
    socket.on('close', () =>
      finish(new GearmanConnectionError(server.label, `closed the connection during "${command.name}"`)),
    );
    socket.write(encodeAdminCommand(command));
  });
}

/** A job server's admin commands, answered as data. */
export class GearmanAdmin {
  readonly server: ServerAddress;
  readonly #options: AdminOptions;

  constructor(server: ServerAddress, options: AdminOptions) {
    this.server = server;
    this.#options = options;
  }

  /** Per function: jobs queued and running together, running, and workers (`status`). */
  async status(): Promise<StatusLine[]> {
    return (await this.#run({ name: 'status' })).map(parseStatusLine);
  }

  /** Per function: queued jobs by priority, and workers (`prioritystatus`). */
  async priorityStatus(): Promise<PriorityStatusLine[]> {
    return (await this.#run({ name: 'prioritystatus' })).map(parsePriorityStatusLine);
  }

  /** The connected workers and clients, with their ids and functions (`workers`). */
  async workers(): Promise<WorkerLine[]> {
    return (await this.#run({ name: 'workers' })).map(parseWorkerLine);
  }

  async version(): Promise<string> {
    return okValue(await this.#run({ name: 'version' }));
  }

  async pid(): Promise<number> {
    return Number(okValue(await this.#run({ name: 'getpid' })));
  }

  /** The jobs the server holds (`show jobs`). */
  async jobs(): Promise<JobLine[]> {
    return (await this.#run({ name: 'show jobs' })).map(parseJobLine);
  }

  /** The uniques of the jobs the server holds (`show unique jobs`). */
  async uniqueJobs(): Promise<string[]> {
    return this.#run({ name: 'show unique jobs' });
  }

  /** Removes a queued job (`cancel job`); a GearmanServerError `UNKNOWN_JOB` when it is not queued. */
  async cancelJob(handle: string): Promise<void> {
    await this.#run({ name: 'cancel job', handle });
  }

  /** Limits a function's queue (`maxqueue`): one size for every priority, or high, normal and low. */
  async maxQueue(functionName: string, sizes?: readonly number[]): Promise<void> {
    await this.#run({ name: 'maxqueue', functionName, ...(sizes ? { sizes } : {}) });
  }

  /** Asks the server to stop (`shutdown`); servers that do not offer it (gearmand 1.1.20) answer an error. */
  async shutdown(graceful = false): Promise<void> {
    await this.#run({ name: 'shutdown', graceful });
  }

  #run(command: AdminCommand): Promise<string[]> {
    return adminCommand(this.server, this.#options, command);
  }
}

function okValue(lines: readonly string[]): string {
  return (lines[0] ?? '').replace(/^OK ?/, '');
}
