/**
 * vitest's global setup: names how a test process died. vitest 4 reports only "Worker exited
 * unexpectedly" for a test file whose process ended without finishing it, dropping the exit code and
 * the signal; this wraps `child_process.fork`, which its pool starts test processes with, to say both
 * on stderr for every test process that ends other than by vitest's own stop (SIGTERM, or code 0).
 * `.ci/run` fails on any such death, and prints Node's fatal-error reports and core dumps' stacks.
 */
import childProcess, { type ChildProcess } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

export default function setup(): void {
  const fork = childProcess.fork;
  childProcess.fork = ((...args: Parameters<typeof fork>) => {
    const child: ChildProcess = fork(...args);
    const started = Date.now();
    child.once('exit', (code, signal) => {
      if (signal === 'SIGTERM' || (code === 0 && signal === null)) return;
      process.stderr.write(
        `\n*** a test process died: pid ${child.pid}, exit code ${code}, signal ${signal}, after ${Date.now() - started} ms ***\n`,
      );
    });
    return child;
  }) as typeof fork;
  // vitest imported `fork` as an ES binding of node:child_process: this updates that binding.
  syncBuiltinESMExports();
}
