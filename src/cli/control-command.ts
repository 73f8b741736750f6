/**
 * The operator's commands: `gearshift cancel|retry|remove <handle>...` (or `--function F [--state S]`
 * for every such job, in one transaction), `gearshift pause|resume <function>`, and `gearshift purge
 * --older-than DURATION [--state S] [--function F]`, each on a queue file (`--queue`) or, where gearmand
 * allows it, a Gearman cluster (`--gearman`). `requeue` is `retry` by its older name.
 */
import type { JobControl, JobSelector, JobState } from '../backend.js';
import { createClient } from '../compose/create-client.js';
import { openQueue } from '../queue/queue-admin.js';
import type { Command, CommandLine } from './command.js';
import { UsageError } from './usage-error.js';

/** What a command does with the control, and how it says it. */
interface ControlAction {
  readonly verb: 'cancel' | 'retry' | 'remove';
  /** The past tense, for what it says: "cancelled". */
  readonly done: string;
  /** Why a job was left as it was. */
  readonly unchanged: string;
}

/** Runs `use` with the control of the queue file or the cluster the command line names. */
async function withControl<T>(
  command: string,
  line: CommandLine,
  use: (control: JobControl) => Promise<T>,
): Promise<T> {
  const { queue, gearman } = line.values;
  if ((queue === undefined) === (gearman === undefined)) {
    throw new UsageError(`${command} needs --queue <file> or --gearman host:port (one of them)`);
  }
  if (queue !== undefined) {
    const file = await openQueue(queue, { create: false });
    try {
      return await use(file.control);
    } finally {
      file.close();
    }
  }
  const client = createClient({ gearman: { servers: gearman as string } });
  try {
    return await use({
      cancel: (selector) => client.cancel(selector),
      retry: (selector) => client.retry(selector),
      remove: (selector) => client.remove(selector),
      purge: (request) => client.purge({ state: request.states, olderThan: request.olderThanMs }),
      pause: (name) => client.pause(name),
      resume: (name) => client.resume(name),
      paused: () => client.paused(),
    });
  } finally {
    await client.destroy();
  }
}

function jobsCommand(action: ControlAction, name: string, takes: string): Command {
  return {
    name,
    usage: `gearshift ${name} <handle>... (--queue <file> | --gearman host:port[,...])
gearshift ${name} --function <function> [--state ${takes}] --queue <file>
    ${action.verb === 'cancel' ? 'Cancels jobs: a queued one never runs, a running one is aborted and ends as cancelled.' : action.verb === 'retry' ? 'Puts failed, dead or cancelled jobs back in the queue now, with a fresh set of attempts.' : 'Deletes finished jobs.'}
    With --function, every such job of the function (in the states given, or every state it takes),
    in one transaction.`,
    options: ['queue', 'gearman', 'function', 'state'],
    run: async (line) => {
      const { positionals, values } = line;
      if (positionals.length > 0 && (values.function !== undefined || values.state !== undefined)) {
        throw new UsageError(`${name} takes handles or --function [--state], not both`);
      }
      if (positionals.length === 0 && values.function === undefined) {
        throw new UsageError(`${name} needs the handles of the jobs, or --function <function>`);
      }
      return withControl(name, line, async (control) => {
        if (positionals.length === 0) {
          const selector: JobSelector = {
            functionName: values.function as string,
            ...(values.state === undefined ? {} : { state: values.state as JobState }),
          };
          const count = await control[action.verb](selector);
          process.stdout.write(`${count} job${count === 1 ? '' : 's'} ${action.done}\n`);
          return 0;
        }
        let unchanged = 0;
        for (const handle of positionals) {
          if ((await control[action.verb](handle)) === 1) process.stdout.write(`${handle}: ${action.done}\n`);
          else {
            unchanged++;
            process.stdout.write(`${handle}: not ${action.done} (${action.unchanged})\n`);
          }
        }
        return unchanged === 0 ? 0 : 1;
      });
    },
  };
}

export const cancelCommand = jobsCommand(
  { verb: 'cancel', done: 'cancelled', unchanged: 'unknown, or already ended' },
  'cancel',
  'queued|running',
);
export const retryCommand = jobsCommand(
  { verb: 'retry', done: 'queued again', unchanged: 'unknown, or neither failed, dead nor cancelled' },
  'retry',
  'failed|dead|cancelled',
);
export const requeueCommand: Command = {
  ...jobsCommand(
    { verb: 'retry', done: 'queued again', unchanged: 'unknown, or neither failed, dead nor cancelled' },
    'requeue',
    'failed|dead|cancelled',
  ),
  usage: `gearshift requeue <handle>... --queue <file>
    retry, by its older name.`,
};
export const removeCommand = jobsCommand(
  { verb: 'remove', done: 'removed', unchanged: 'unknown, or not finished' },
  'remove',
  'completed|failed|dead|cancelled',
);

function functionCommand(name: 'pause' | 'resume'): Command {
  return {
    name,
    usage: `gearshift ${name} <function> (--queue <file> | --gearman host:port[,...])
    ${name === 'pause' ? "Stops taking the function's jobs, which keep queueing" : "Takes the paused function's jobs again"}: on a queue file every runner,
    kept in the file; on Gearman every gearshift worker connected now.`,
    options: ['queue', 'gearman'],
    run: async (line) => {
      const [functionName, ...extra] = line.positionals;
      if (!functionName || extra.length > 0)
        throw new UsageError(`${name} takes exactly one argument: the function`);
      await withControl(name, line, (control) => control[name](functionName));
      process.stdout.write(`${functionName}: ${name === 'pause' ? 'paused' : 'resumed'}\n`);
      return 0;
    },
  };
}

export const pauseCommand = functionCommand('pause');
export const resumeCommand = functionCommand('resume');

export const purgeCommand: Command = {
  name: 'purge',
  usage: `gearshift purge --older-than DURATION [--state completed|failed|dead|cancelled] [--function <function>] --queue <file>
    Deletes the finished jobs (of that state, or every end state) that ended more than DURATION ago.`,
  options: ['queue', 'gearman', 'state', 'function', 'older-than'],
  run: async (line) => {
    const { values, positionals } = line;
    if (positionals.length > 0) throw new UsageError('purge takes no arguments, only options');
    if (values['older-than'] === undefined)
      throw new UsageError('purge needs --older-than DURATION (7d, 12h, ...)');
    const states: JobState[] =
      values.state === undefined ? ['completed', 'failed', 'dead', 'cancelled'] : [values.state as JobState];
    const count = await withControl('purge', line, (control) =>
      control.purge({ states, olderThanMs: values['older-than'] as number, functionName: values.function }),
    );
    process.stdout.write(`${count} job${count === 1 ? '' : 's'} purged\n`);
    return 0;
  },
};
