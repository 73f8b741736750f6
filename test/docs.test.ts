/**
 * The code the README and the guides show as runnable is the code in docs/examples/ (the same text,
 * checked here), which the type check compiles and this test runs: the client example against a pool
 * and a queue file, the worker example until it is told to stop.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const directory = mkdtempSync(join(tmpdir(), 'gearshift-docs-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const examples = documents.flatMap((document) =>
  [
    ...readFileSync(join(root, document), 'utf8').matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g),
  ].map((match) => ({ document, file: match[1] as string, code: match[2] as string })),
);

describe('the runnable code of the README and the guides', () => {
  it('is marked in them, and there is some', () => {
    expect(examples.map((example) => example.file).sort()).toEqual([
      'docs/examples/client.ts',
      'docs/examples/functions.ts',
      'docs/examples/worker.ts',
    ]);
  });

  for (const { document, file, code } of examples) {
    it(`${document} shows ${file} as it is`, () => {
      expect(readFileSync(join(root, file), 'utf8')).toBe(code);
    });
  }

  it('docs/examples/client.ts runs: a fan-out, a background job kept in a queue file, its status, its end', async () => {
    const { stdout } = await run(process.execPath, [tsx, join(root, 'docs/examples/client.ts')], {
      env: { ...process.env, QUEUE_FILE: join(directory, 'client.db') },
      timeout: 60_000,
    });
    // finished() waited for the background job to end: it completed.
    expect(stdout.trim()).toMatch(/^9000 18000 (queued|running|completed) [01] completed$/);
  });

  it('docs/examples/worker.ts runs the jobs of a queue file until SIGTERM, then stops', async () => {
    const child = spawn(process.execPath, [tsx, join(root, 'docs/examples/worker.ts')], {
      env: { ...process.env, QUEUE_FILE: join(directory, 'worker.db') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await expect
        .poll(() => output, { timeout: 30_000 })
        .toMatch(/runs salesReport, sendPush, thumbnail from \S+worker\.db/);
      // Still working: a worker waits for jobs until it is told to stop.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(child.exitCode).toBeNull();
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
