/**
 * The text administrative protocol that gearmand serves on the same port as the binary one: commands are
 * lines; answers are a single line (`OK ...` or `ERR CODE text`) or a list of lines ending with a line of
 * a single `.`. gearmand ends some lines with `\n` and others with `\r\n`; both are read.
 */

/** A command of the text protocol. */
export type AdminCommand =
  | { readonly name: 'status' }
  | { readonly name: 'prioritystatus' }
  | { readonly name: 'workers' }
  | { readonly name: 'version' }
  | { readonly name: 'getpid' }
  | { readonly name: 'show jobs' }
  | { readonly name: 'show unique jobs' }
  | { readonly name: 'cancel job'; readonly handle: string }
  | { readonly name: 'maxqueue'; readonly functionName: string; readonly sizes?: readonly number[] }
  | { readonly name: 'shutdown'; readonly graceful?: boolean };

/** Commands answered with a list of lines ending in `.`. */
const listCommands = new Set<AdminCommand['name']>([
  'status',
  'prioritystatus',
  'workers',
  'show jobs',
  'show unique jobs',
]);

/** Whether a command is answered with a list (ending in a `.` line) rather than one line. */
export function answersWithList(command: AdminCommand): boolean {
  return listCommands.has(command.name);
}

/** The line that sends a command. Arguments cannot hold spaces or line breaks. */
export function encodeAdminCommand(command: AdminCommand): string {
  const words: string[] = [command.name];
  if (command.name === 'cancel job') words.push(command.handle);
  if (command.name === 'maxqueue') words.push(command.functionName, ...(command.sizes ?? []).map(String));
  if (command.name === 'shutdown' && command.graceful) words.push('graceful');
  for (const word of words.slice(1)) {
    if (/[\s]/.test(word) || word.length === 0)
      throw new TypeError(
        `an admin command argument cannot be empty or hold spaces: ${JSON.stringify(word)}`,
      );
  }
  return `${words.join(' ')}\n`;
}

/** The most an admin answer may hold, in bytes. */
export const maxAdminAnswerBytes = 16 * 1024 * 1024;

/** The longest line an admin answer may hold: a `workers` line lists one worker's functions. */
export const maxAdminLineChars = 1024 * 1024;

/**
 * Splits a stream of text into lines, accepting both `\n` and `\r\n` endings, in time linear in the
 * text: each chunk is scanned once, and a line's pieces are joined once, when it ends. A line longer
 * than `maxLineChars` is an error (a peer that never ends a line cannot fill the memory).
 */
export class LineReader {
  readonly #maxLineChars: number;
  /** The pieces of the line not yet ended, and their length. */
  #pieces: string[] = [];
  #pendingChars = 0;

  constructor(maxLineChars = maxAdminLineChars) {
    this.#maxLineChars = maxLineChars;
  }

  /** Adds text; returns the whole lines it completes, without their endings. Throws for a line too long. */
  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
      this.#take(end - start);
      this.#pieces.push(chunk.slice(start, end));
      const line = this.#pieces.length === 1 ? (this.#pieces[0] as string) : this.#pieces.join('');
      lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      this.#pieces = [];
      this.#pendingChars = 0;
      start = end + 1;
    }
    if (start < chunk.length) {
      this.#take(chunk.length - start);
      this.#pieces.push(chunk.slice(start));
    }
    return lines;
  }

  #take(chars: number): void {
    this.#pendingChars += chars;
    if (this.#pendingChars > this.#maxLineChars) {
      throw new RangeError(`a line longer than ${this.#maxLineChars} characters`);
    }
  }
}

/** An `ERR CODE text` line, read: gearmand writes the text with `+` for spaces. */
export function parseErrorLine(line: string): { code: string; text: string } | undefined {
  const match = /^ERR (\S+)(?: (.*))?$/.exec(line);
  if (!match) return undefined;
  return { code: match[1] as string, text: (match[2] ?? '').replaceAll('+', ' ') };
}

/** One line of `status`. */
export interface StatusLine {
  readonly functionName: string;
  /** Jobs queued and running together, as gearmand counts them. */
  readonly total: number;
  readonly running: number;
  readonly workers: number;
}

/** One line of `prioritystatus`: queued jobs by priority. */
export interface PriorityStatusLine {
  readonly functionName: string;
  readonly high: number;
  readonly normal: number;
  readonly low: number;
  readonly workers: number;
}

/** One line of `workers`. */
export interface WorkerLine {
  readonly fd: number;
  readonly address: string;
  readonly clientId: string;
  readonly functions: readonly string[];
}

/** One line of `show jobs`. */
export interface JobLine {
  readonly handle: string;
  readonly retries: number;
  readonly ignored: boolean;
  readonly queued: boolean;
}

export function parseStatusLine(line: string): StatusLine {
  const [functionName = '', total, running, workers] = line.split('\t');
  return { functionName, total: Number(total), running: Number(running), workers: Number(workers) };
}

export function parsePriorityStatusLine(line: string): PriorityStatusLine {
  const [functionName = '', high, normal, low, workers] = line.split('\t');
  return {
    functionName,
    high: Number(high),
    normal: Number(normal),
    low: Number(low),
    workers: Number(workers),
  };
}

export function parseWorkerLine(line: string): WorkerLine {
  // "FD ADDRESS CLIENT-ID : FUNCTION ...": split on spaces (an IPv6 address holds colons, not spaces).
  const [fd, address = '', clientId = '-', , ...functions] = line.split(' ');
  return { fd: Number(fd), address, clientId, functions: functions.filter(Boolean) };
}

export function parseJobLine(line: string): JobLine {
  const [handle = '', retries, ignored, queued] = line.split('\t');
  return { handle, retries: Number(retries), ignored: ignored === '1', queued: queued === '1' };
}
