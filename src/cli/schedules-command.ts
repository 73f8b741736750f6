/**
 * `gearshift schedules --queue <file>`: the file's schedules, each with its next slot; `gearshift
 * unschedule <id>... --queue <file>` removes them. Schedules are kept from code (`client.schedule()`), where
 * their input is typed; a queue file only.
 */
import type { ScheduleInfo } from '../backend.js';
import { openQueue } from '../queue/queue-admin.js';
import type { Command, CommandLine } from './command.js';
import { UsageError } from './usage-error.js';

const queueOnly = (command: string) =>
  `${command} takes --queue <file> only: schedules are kept in a queue file, gearmand keeps none`;

function queueOf(command: string, line: CommandLine): string {
  if (line.values.queue === undefined) throw new UsageError(`${command} needs --queue <file>`);
  return line.values.queue;
}

/** When a schedule fires, as written. */
function timing(schedule: ScheduleInfo): string {
  const to = schedule.target === 'gearman' ? ', to gearman' : '';
  if (schedule.cron !== undefined)
    return `cron ${schedule.cron}${schedule.tz ? ` (${schedule.tz})` : ''}${to}`;
  return `every ${schedule.everyMs} ms${to}`;
}

const time = (at: number | null) => (at === null ? '-' : new Date(at).toISOString());

export const schedulesCommand: Command = {
  name: 'schedules',
  usage: `gearshift schedules --queue <file>
    The file's schedules: when each fires, its next slot and the last one enqueued (times in UTC).`,
  options: ['queue'],
  refuses: { gearman: queueOnly('schedules') },
  run: async (line) => {
    if (line.positionals.length > 0) throw new UsageError('schedules takes no arguments, only --queue');
    const queue = await openQueue(queueOf('schedules', line), { create: false });
    try {
      process.stdout.write('ID\tFUNCTION\tWHEN\tCATCH UP\tNEXT\tLAST\n');
      for (const schedule of await queue.schedules.list()) {
        process.stdout.write(
          `${schedule.id}\t${schedule.functionName}\t${timing(schedule)}\t${schedule.catchUp}\t${time(schedule.nextAt)}\t${time(schedule.lastSlot)}\n`,
        );
      }
      return 0;
    } finally {
      queue.close();
    }
  },
};

export const unscheduleCommand: Command = {
  name: 'unschedule',
  usage: `gearshift unschedule <id>... --queue <file>
    Removes schedules; the jobs they already enqueued stay.`,
  options: ['queue'],
  refuses: { gearman: queueOnly('unschedule') },
  run: async (line) => {
    if (line.positionals.length === 0) throw new UsageError('unschedule needs the ids of the schedules');
    const queue = await openQueue(queueOf('unschedule', line), { create: false });
    try {
      let missing = 0;
      for (const id of line.positionals) {
        if (await queue.schedules.remove(id)) process.stdout.write(`${id}: removed\n`);
        else {
          missing++;
          process.stdout.write(`${id}: no such schedule\n`);
        }
      }
      return missing === 0 ? 0 : 1;
    } finally {
      queue.close();
    }
  },
};
