import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
  });
});

describe('a wrong command line', () => {
  /** Exit code 2, one line naming the mistake, that command's usage and no other, and no stack. */
  async function refused(args: string[], line: string, command: string): Promise<void> {
    const { code, stdout, stderr } = await gearshift(...args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const [first, blank, usage] = stderr.split('\n');
    expect(first).toBe(`gearshift: ${line}`);
    expect(blank).toBe('');
    expect(usage).toBe('Usage:');
    expect(stderr).toContain(`  gearshift ${command} `);
    for (const other of ['submit', 'work', 'status', 'jobs', 'requeue', 'functions'].filter(
      (name) => name !== command,
    ))
      expect(stderr).not.toContain(`  gearshift ${other} `);
    expect(stderr).not.toMatch(/^\s+at /m);
  }

  it('names a misspelt option and the one meant', async () => {
    await refused(
      ['submit', 'add', '{}', '--backgorund', '--queue', 'q.db'],
      'unknown option --backgorund (did you mean --background?)',
      'submit',
    );
    await refused(['status', '--queue'], '--queue needs a value (<file>)', 'status');
  });

  it('says which commands take only a queue file, and why', async () => {
    await refused(
      ['jobs', '--gearman', '127.0.0.1:4730'],
      'jobs takes --queue <file> only: gearmand keeps no finished jobs (gearshift status --gearman shows what it holds)',
      'jobs',
    );
    await refused(
      ['work', functions, '--gearman', '127.0.0.1:1', '--lease-ms', '5000'],
      '--lease-ms is for --queue workers (gearmand holds no lease: it sees a worker die)',
      'work',
    );
  });

  it('checks an option the same way in every command, showing the text it was given', async () => {
    const message = 'Expected `--threads` to be an integer from 0 and up, got `"abc"` (string)';
    await refused(['submit', 'add', '{}', '--functions', functions, '--threads', 'abc'], message, 'submit');
    await refused(['work', functions, '--queue', 'q.db', '--threads', 'abc'], message, 'work');
    await refused(
      ['submit', 'add', '{}', '--queue', 'q.db', '--background', '--delay', '3 weeks'],
      'Expected `--delay` to be a duration: milliseconds, or a number with a unit (ms, s, m, h, d) such as 30s, 15m, 7d or 1h30m, got `"3 weeks"` (string)',
      'submit',
    );
  });

  it('runs a job inline with --threads 0, as work does', async () => {
    const { code, stdout } = await gearshift(
      'submit',
      'add',
      '{"a":1,"b":2}',
      '--functions',
      functions,
      '--threads',
      '0',
    );
    expect(code).toBe(0);
    expect(stdout).toBe('3\n');
  });
});

describe('a queue file that is not there, or cannot be', () => {
  it('status of a file that does not exist fails and creates nothing', async () => {
    const missing = join(tmpdir(), `gearshift-missing-${process.pid}`, 'queue.db');
    const { code, stderr } = await gearshift('status', '--queue', missing);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `gearshift: Queue file ${missing} does not exist (check the path: nothing was created)\n`,
    );
    expect(existsSync(dirname(missing))).toBe(false);
  });

  it('a path under /proc says the file system takes no new files, without hanging', async () => {
    const { code, stderr } = await gearshift(
      'submit',
      'noop',
      '--background',
      '--queue',
      '/proc/gearshift/queue.db',
    );
    expect(code).toBe(1);
    expect(stderr).toBe(
      'gearshift: Queue file /proc/gearshift/queue.db cannot be created: its directory /proc/gearshift cannot be made: /proc takes no new files (ENOENT): it is a virtual file system, such as /proc or /sys\n',
    );
  });
});

describe('a functions module that does not parse', () => {
  it('is reported with its file, line and column, also when the mistake is in a module it imports', async () => {
    const project = mkdtempSync(join(tmpdir(), 'gearshift-syntax-'));
    try {
      writeFileSync(
        join(project, 'broken.mjs'),
        'export const x = 1;\nexport default {\n  a: (x) => x +,\n};\n',
      );
      writeFileSync(
        join(project, 'entry.mjs'),
        "import broken from './broken.mjs';\nexport default broken;\n",
      );
      for (const module of ['broken.mjs', 'entry.mjs']) {
        const { code, stderr } = await gearshift('functions', join(project, module));
        expect(code).toBe(1);
        expect(stderr).toBe(
          `gearshift: Functions module ${join(project, module)} does not parse at ${join(project, 'broken.mjs')}:3:16: SyntaxError: Unexpected token ','\n`,
        );
      }
      // tsx, where Node cannot strip types (Node 20), is found as a project of the user's would find it.
      symlinkSync(new URL('../node_modules', import.meta.url).pathname, join(project, 'node_modules'));
      writeFileSync(
        join(project, 'broken.ts'),
        'const n: number = 1;\nexport default {\n  a: (x: number) => x +,\n};\n',
      );
      const typeScript = await gearshift('functions', join(project, 'broken.ts'));
      expect(typeScript.code).toBe(1);
      expect(typeScript.stderr).toMatch(
        new RegExp(
          `^gearshift: Functions module \\S+broken\\.ts does not parse at ${join(project, 'broken.ts')}:3:2[34]: SyntaxError: `,
        ),
      );
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
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

  it('lists their limits', async () => {
    const limited = new URL('./fixtures/limited-functions.ts', import.meta.url).pathname;
    const { code, stdout } = await gearshift('functions', limited);
    expect(code).toBe(0);
    expect(stdout).toContain('pair\tjson, limit 2 at once\n');
    expect(stdout).toContain('paced\tjson, limit 5 per 500 ms\n');
    expect(stdout).toContain('perTenant\tjson, limit 1 at once, per tenant\n');
  });

  it('prints the version', async () => {
    expect((await gearshift('--version')).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
