/**
 * What a worker must not keep to itself: a server it cannot reach, its reconnection, a job it refused, a
 * dead runner whose jobs it took back. Each is an event first (for a program that watches its worker);
 * this turns them into lines for a person, on stderr unless the worker's `log` option says otherwise.
 */
import type { WorkerEvents } from './worker-events.js';

/** Where a worker writes its notices: a function that takes one line, or false for nowhere. */
export type WorkerLog = ((line: string) => void) | false;

/** The default: one line on stderr. */
export const stderrLog = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Writes the notices among `events` to `log`, each line prefixed with `who` ("gearshift worker 1234"). */
export function logWorkerEvents(events: WorkerEvents, log: WorkerLog, who: string): void {
  if (log === false) return;
  const say = (text: string) => log(`${who}: ${text}`);
  /** Sources that were lost or could not be reached: their next `connected` is a reconnection. */
  const troubled = new Set<string>();
  events.on('connection', ({ source, state, error, retryInMs }) => {
    if (state === 'unreachable') {
      troubled.add(source);
      const retry = retryInMs === undefined ? '' : `; trying again in ${(retryInMs / 1000).toFixed(1)} s`;
      say(`cannot reach ${source}: ${error?.message ?? 'no answer'}${retry} (and on, until it answers)`);
    } else if (state === 'disconnected') {
      // Without an error the worker closed it itself (it is stopping).
      if (!error) return;
      troubled.add(source);
      say(`lost ${source} (${error.message}): its jobs running here can no longer be answered; reconnecting`);
    } else if (troubled.delete(source)) say(`reconnected to ${source}`);
  });
  events.on('refused', ({ handle, functionName, source, error }) =>
    say(`refused job ${handle} (${functionName}) from ${source}: ${error.message}`),
  );
  events.on('runnerGone', ({ runner, pid, host, jobs }) =>
    say(
      `runner ${runner} (pid ${pid} on ${host}) is gone: ${jobs} job${jobs === 1 ? '' : 's'} it held went back to the queue`,
    ),
  );
}
