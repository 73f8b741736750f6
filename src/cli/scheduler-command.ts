/**
 * `gearshift scheduler --queue <file> --gearman host:port[,...]`: submits the slots of the file's Gearman
 * schedules (`schedule(..., { target: 'gearman' })`) to the job servers, until SIGTERM or SIGINT.
 */
import { startGearmanScheduler } from '../compose/gearman-scheduler.js';
import type { Command } from './command.js';
import { UsageError } from './usage-error.js';

export const schedulerCommand: Command = {
  name: 'scheduler',
  usage: `gearshift scheduler --queue <file> --gearman host:port[,...]
    Submits each slot of the file's Gearman schedules (target: 'gearman') to the job servers, as a
    background job with the unique <id>@<slot>. Several may share the file: each slot is claimed by
    one, and a claim whose scheduler died is taken over (docs/schedules.md says what that bounds).`,
  options: ['queue', 'gearman'],
  run: async ({ values, positionals }) => {
    if (positionals.length > 0) throw new UsageError('scheduler takes no arguments, only options');
    if (values.queue === undefined || values.gearman === undefined)
      throw new UsageError(
        'scheduler needs --queue <file> (where the schedules are) and --gearman host:port',
      );
    const scheduler = await startGearmanScheduler({
      queue: values.queue,
      gearman: { servers: values.gearman },
    });
    process.stderr.write(
      `gearshift scheduler: pid ${process.pid}, submits the Gearman schedules of ${values.queue} to ${values.gearman}\n`,
    );
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
    });
    await scheduler.close();
    return 0;
  },
};
