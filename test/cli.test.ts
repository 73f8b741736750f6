import { describe, expect, it } from 'vitest';
import { gearshift } from './helpers/cli.js';

const functions = new URL('./fixtures/functions.ts', import.meta.url).pathname;

describe('gearshift submit', () => {
  it('prints the result as JSON on stdout and the progress on stderr', async () => {
    const { code, stdout, stderr } = await gearshift(
      'submit',
      'progress',
      '{"steps":2}',
      '--functions',
      functions,
    );
    expect(code).toBe(0);
    expect(stdout).toBe('{"steps":2}\n');
    expect(stderr).toBe('status 1/2\ndata {"step":1}\nstatus 2/2\ndata {"step":2}\nwarning almost done\n');
  });

  it('sends the text as it is to a bytes function with --raw and prints the bytes back', async () => {
    const { code, stdout } = await gearshift(
      'submit',
      'upper',
      'hello, world',
      '--raw',
      '--functions',
      functions,
    );
    expect(code).toBe(0);
    expect(stdout).toBe('HELLO, WORLD');
  });

  it('exits 1 with the job error when the job fails', async () => {
    const { code, stderr } = await gearshift(
      'submit',
      'fail',
      '{"message":"disk full"}',
      '--functions',
      functions,
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/^gearshift: fail \(H:\S+\) failed: CodedError: disk full\n$/);
  });

  it('exits 1 naming the functions when the function does not exist', async () => {
    const { code, stderr } = await gearshift('submit', 'nope', '{}', '--functions', functions);
    expect(code).toBe(1);
    expect(stderr).toContain("Unknown function 'nope': the functions are 'echo', 'add'");
  });

  it('exits 2 with the usage when the command line is wrong', async () => {
    for (const args of [
      ['submit', 'add', '{not json}', '--functions', functions],
      ['submit', 'add'],
      ['frobnicate'],
    ]) {
      const { code, stderr } = await gearshift(...args);
      expect(code).toBe(2);
      expect(stderr).toContain('Usage:');
    }
    expect((await gearshift('submit', 'add')).stderr).toContain('submit needs --functions <module>');
    expect(
      (await gearshift('submit', 'add', '{}', '--functions', functions, '--threads', '0')).stderr,
    ).toContain('Expected `--threads` to be an integer from 1 and up, got `0` (number)');
  });
});

describe('gearshift functions and --version', () => {
  it("lists a module's functions with their payloads and timeouts", async () => {
    const { code, stdout } = await gearshift('functions', functions);
    expect(code).toBe(0);
    expect(stdout).toContain('add\tjson\n');
    expect(stdout).toContain('upper\tbytes\n');
    expect(stdout).toContain('slowDefault\tjson, timeout 100 ms\n');
  });

  it('prints the version', async () => {
    expect((await gearshift('--version')).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
