/** Running the built `gearshift` command with plain node, as an installed one would run. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const cli = new URL('../../dist/cli.js', import.meta.url).pathname;

/** Runs `gearshift ...args`; resolves with its exit code and output, whatever the code. */
export async function gearshift(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}
