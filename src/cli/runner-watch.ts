/**
 * While `gearshift submit` waits on a queue file for a job's result, it looks at the file's runners and
 * says, on stderr, when no live runner runs the job's function (the job waits until one starts), and
 * again when one does.
 */
import { openQueue } from '../queue/queue-admin.js';
import { every } from '../shared/timers.js';

/** How often the runners are looked at. */
const lookEveryMs = 1000;

/** Starts looking; `stop()` ends it. */
export function watchForRunners(path: string, functionName: string): { stop(): void } {
  let said: 'none' | 'some' | undefined;
  let stopped = false;
  const look = async () => {
    let runners: { pid: number; host: string }[];
    try {
      const queue = await openQueue(path, { create: false });
      // Stopped while the file opened (the job ended): nothing more to say.
      if (stopped) {
        queue.close();
        return;
      }
      try {
        runners = queue.runners().filter((runner) => runner.functions.includes(functionName));
      } finally {
        queue.close();
      }
    } catch {
      return;
    }
    if (runners.length === 0 && said !== 'none') {
      said = 'none';
      process.stderr.write(
        `gearshift submit: waiting: no live runner of ${path} runs ${functionName}; the job runs when one starts (gearshift work <module> --queue ${path})\n`,
      );
    } else if (runners.length > 0 && said === 'none') {
      said = 'some';
      const [first] = runners;
      process.stderr.write(
        `gearshift submit: a runner (pid ${first?.pid} on ${first?.host}) runs ${functionName} now\n`,
      );
    }
  };
  const timer = every(lookEveryMs, look).unref();
  return {
    stop: () => {
      stopped = true;
      timer.close();
    },
  };
}
