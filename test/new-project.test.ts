/**
 * The first file, as a newcomer writes it: a project made with `npm init -y` (npm 11 writes `"type":
 * "commonjs"`), set to ES modules as the README says, gearshift installed from its packed tarball, and
 * the README's functions module and client run with plain `node` (Node 22 and 24 strip TypeScript's
 * types; on Node 20 the README's `--import tsx`). And the CommonJS way: `require('gearshift')` with a
 * functions module that sets `module.exports`, which Node allows from 20.19 and 22.12 (require of an ES
 * module without top-level await).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-new-project-'));
const project = join(directory, 'app');
const npm = {
  cwd: project,
  timeout: 180_000,
  env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
};
const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);
afterAll(() => rmSync(directory, { recursive: true, force: true }));

beforeAll(async () => {
  // The package as it would be published (dist is built by `npm test` before the suite).
  const { stdout } = await exec(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', directory],
    {
      cwd: root,
      timeout: 60_000,
    },
  );
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  await exec('mkdir', ['-p', project]);
  await exec('npm', ['init', '-y'], npm);
  // Node 20 runs TypeScript through tsx, and keeps a queue file with better-sqlite3.
  await exec(
    'npm',
    ['install', '--prefer-offline', join(directory, filename), ...(stripsTypes ? [] : ['tsx@4'])],
    npm,
  );
  if (!stripsTypes) {
    // A user's `npm install better-sqlite3` builds its addon (about a minute here); this checkout's, built
    // already, stands in for it.
    symlinkSync(join(root, 'node_modules/better-sqlite3'), join(project, 'node_modules/better-sqlite3'));
  }
}, 240_000);

describe('a project made with npm init -y', () => {
  it("is CommonJS as npm 11 makes it, until the README's `npm pkg set type=module`", async () => {
    const made = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { type?: string };
    expect(made.type ?? 'commonjs').toBe('commonjs');
    await exec('npm', ['pkg', 'set', 'type=module'], npm);
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'))).toMatchObject({ type: 'module' });
  });

  it("runs the README's functions module and client with plain node", async () => {
    copyFileSync(join(root, 'docs/examples/functions.ts'), join(project, 'functions.ts'));
    copyFileSync(join(root, 'docs/examples/client.ts'), join(project, 'app.ts'));
    const args = stripsTypes ? ['app.ts'] : ['--import', 'tsx', 'app.ts'];
    const { stdout, stderr } = await exec(process.execPath, args, { cwd: project, timeout: 60_000 });
    expect(stdout.trim()).toMatch(/^9000 18000 (queued|running|completed) [01] completed$/);
    // Node 22 marks node:sqlite experimental: gearshift silences that one warning, and says nothing else.
    expect(
      stderr.split('\n').filter((line) => line && !/Type Stripping|--trace-warnings/.test(line)),
    ).toEqual([]);
  });

  it('also runs from CommonJS: require("gearshift") and a functions module that sets module.exports', async () => {
    writeFileSync(
      join(project, 'functions.cjs'),
      "const { defineFunctions } = require('gearshift');\nmodule.exports = defineFunctions({ twice: (n) => n * 2 });\n",
    );
    writeFileSync(
      join(project, 'app.cjs'),
      `const { createClient } = require('gearshift');
const gs = createClient({ functions: require('node:path').join(__dirname, 'functions.cjs'), queue: false });
gs.runAll([1, 2, 3].map((n) => gs.task('twice', n))).then(async (results) => {
  console.log(results.map((result) => result.result).join(' '));
  await gs.close();
});
`,
    );
    const { stdout } = await exec(process.execPath, ['app.cjs'], { cwd: project, timeout: 60_000 });
    expect(stdout).toBe('2 4 6\n');
  });
});
