/** Starting `gearshift work` processes (queue runners, Gearman workers) for tests, and making sure none outlives its test. */
import { type ChildProcess, spawn } from 'node:child_process';

const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
const started = new Set<ChildProcess>();
const stderrs = new WeakMap<ChildProcess, string[]>();

/** What a runner started here wrote on stderr so far. */
export function stderrOf(child: ChildProcess): string {
  return (stderrs.get(child) ?? []).join('');
}

/** Starts `gearshift work <module> --queue <file> ...args` and resolves once it is working. */
export function startRunner(
  module: string,
  queue: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChildProcess> {
  return startWorkProcess(module, ['--queue', queue, ...args], env);
}

/** Starts `gearshift work <module> ...args` (a queue runner or a Gearman worker) and resolves once it is working. */
export async function startWorkProcess(
  module: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, 'work', module, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  const chunks: string[] = [];
  stderrs.set(child, chunks);
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the runner did not start: ${output}`)), 30_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('gearshift work: pid')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the runner exited with ${code} before it started: ${output}`));
    });
  });
  return child;
}

/** Kills a runner with `signal` and waits until it is gone. */
export async function stopRunner(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/** Kills every runner a test left behind (call in afterEach: even a failing test stops them). */
export async function stopAllRunners(): Promise<void> {
  await Promise.all([...started].map((child) => stopRunner(child, 'SIGKILL')));
}
