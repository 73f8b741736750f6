/**
 * The console in a real browser: Debian's chromium, driven by playwright-core with the system's
 * executable (nothing downloads a browser), against `gearshift dashboard` serving a real queue file that
 * a runner process works on. The overview lists the functions; a job submitted meanwhile appears
 * without a reload; cancel and retry from the page change the file; a read-only console offers no
 * action; a request without the token is refused; a job whose input holds markup shows it as text.
 * Screenshots go to a temporary directory, named in the output.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../src/index.js';
import type functions from './fixtures/control-functions.js';
import { startRunner, stopAllRunners } from './helpers/runner-process.js';

const chromium = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim();
if (!chromium) {
  const message = "Debian's chromium is needed for the console's browser tests (apt-get install chromium)";
  if (process.env.CI) throw new Error(`${message}; under CI that is a failure, not a skip`);
  console.warn(`\n*** SKIPPED: ${message} ***\n`);
}
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const module = new URL('./fixtures/control-functions.ts', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'gearshift-console-browser-'));
const screenshots = join(tmpdir(), 'gearshift-console-screenshots');
const path = join(directory, 'queue.db');
const log = join(directory, 'ledger');
const token = 'browser-test-token';
let browser: Browser;
let client: Client<typeof functions>;
/** The job whose input holds markup, and the one that ends dead. */
let hostile: string;
let dead: string;
const consoles: ChildProcess[] = [];

/** Starts `gearshift dashboard` with `args`; resolves with its page's address. */
async function dashboard(...args: string[]): Promise<string> {
  const child = spawn(
    process.execPath,
    [cli, 'dashboard', '--queue', path, '--listen', '127.0.0.1:0', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  consoles.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const url = /gearshift dashboard: (\S+)/.exec(output)?.[1];
      if (url) resolve(url);
    });
    child.once('exit', (code) => reject(new Error(`the dashboard exited with ${code}: ${output}`)));
  });
}

/**
 * Opens `url` in a new page and waits until the page has drawn its first overview, list and charts and
 * follows the file (it says "live"), as a reader sees it before acting; `settle: false` does not wait.
 * `before` (a route, say) is set up before the page loads.
 */
async function open(
  url: string,
  { before, settle = true }: { before?: (page: Page) => Promise<unknown>; settle?: boolean } = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await before?.(page);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('dialog', (dialog) => {
    problems.push(`a dialog opened: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(url);
  if (settle) await page.locator('#live', { hasText: /^live$/ }).waitFor({ timeout: 10_000 });
  return { page, problems };
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshots, { recursive: true });
  const file = join(screenshots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`console screenshot: ${file}`);
}

/**
 * Polls what the page shows until it matches, for up to 10 s: the browser, the console and the runner
 * share 2 cores with the rest of the suite, where vitest's default of 1 s has run out (a click's fetch
 * and drawing took longer once in CI). These waits are about what the page shows, not how fast.
 */
const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 10_000 });

const ledger = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);

describe.skipIf(!chromium)('the console in chromium', () => {
  beforeAll(async () => {
    const { chromium: launcher } = await import('playwright-core');
    browser = await launcher.launch({
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    client = createClient<typeof functions>({ queue: { path } });
    await client.backgroundAll(['a', 'b'].map((tag) => client.backgroundJob('mark', { log, tag })));
    dead = await client.background('broken', { log, tag: 'x' }, { attempts: 1 });
    hostile = await client.background('mark', {
      log,
      tag: '<script>window.ran = 1</script><img src=x onerror="window.ran = 2">',
    });
    await client.schedule('weekly', { every: '7d' }, 'mark', { log, tag: 'weekly' }, { catchUp: 'none' });
    await startRunner(module, path, ['--threads', '1']);
    for (const deadline = Date.now() + 20_000; ledger().length < 4; ) {
      if (Date.now() > deadline) throw new Error(`the runner ran ${ledger().length} of 4 jobs in 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  afterEach(() => {
    for (const child of consoles.splice(0)) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await stopAllRunners();
    rmSync(directory, { recursive: true, force: true });
  });

  it('lists the functions of the file, and a job submitted meanwhile appears without a reload', async () => {
    const { page, problems } = await open(await dashboard());
    await eventually(() => page.locator('#functions tbody tr').count()).toBe(3);
    await eventually(() => page.locator('#live').textContent()).toBe('live');
    await client.pause('abortable');
    const handle = await client.background('abortable', { log, tag: 'late', ms: 1 });
    // Pushed by the server: the overview and the queued list follow, with no reload.
    await eventually(() => page.locator('tr[data-function="abortable"] td').nth(1).textContent()).toBe('1');
    await eventually(() => page.locator(`#jobs tr[data-handle="${handle}"]`).count()).toBe(1);
    await eventually(() =>
      page.locator('#schedule-list tr[data-schedule="weekly"] td').nth(2).textContent(),
    ).toBe('every 7d');
    await shot(page, 'overview');
    expect(problems).toEqual([]);
  });

  it('cancels and retries from the page, asking first, and the file changes', async () => {
    // Paused, the job stays queued until the page cancels it.
    await client.pause('abortable');
    const { page, problems } = await open(await dashboard());
    const queued = await client.background('abortable', { log, tag: 'to-cancel', ms: 1 });
    await page.locator(`#jobs tr[data-handle="${queued}"] input`).check();
    await page.locator('#job-actions [data-action="cancel"]').click();
    await eventually(() => page.locator('#confirm-text').textContent()).toBe('Cancel 1 job?');
    await shot(page, 'confirm-cancel');
    await page.locator('#confirm-yes').click();
    await eventually(async () => (await client.status(queued)).state).toBe('cancelled');
    await page.locator('#states [data-state="dead"]').click();
    await page.locator(`#jobs tr[data-handle="${dead}"] input`).check();
    await page.locator('#job-actions [data-action="retry"]').click();
    await page.locator('#confirm-yes').click();
    await expect
      .poll(() => ledger().filter((line) => line === 'x failed').length, { timeout: 20_000 })
      .toBe(2);
    await client.resume('abortable');
    expect(problems).toEqual([]);
  });

  it("shows a job's input as text: markup in it runs nothing", async () => {
    const { page, problems } = await open(await dashboard());
    await page.locator('#states [data-state="completed"]').click();
    await page.locator(`#jobs tr[data-handle="${hostile}"]`).click();
    await eventually(() => page.locator('#job-input').textContent()).toContain(
      '<script>window.ran = 1</script>',
    );
    await shot(page, 'job-with-markup');
    expect(await page.evaluate(() => (globalThis as { ran?: number }).ran)).toBeUndefined();
    expect(await page.locator('#job img, #job script').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('keeps a row as the same row while the list follows the file, so a click aimed at it lands on it', async () => {
    const { page, problems } = await open(await dashboard());
    await page.locator('#states [data-state="completed"]').click();
    const row = page.locator(`#jobs tr[data-handle="${hostile}"]`);
    await eventually(() => row.count()).toBe(1);
    const aimedAt = await row.elementHandle();
    // The file changes: the runner completes a new job, and the completed list is drawn again with it.
    const follow = await client.background('mark', { log, tag: 'follow' });
    await eventually(() => page.locator(`#jobs tr[data-handle="${follow}"]`).count()).toBe(1);
    expect(await aimedAt?.evaluate((node) => node.isConnected)).toBe(true);
    expect(problems).toEqual([]);
  });

  it('draws the list the reader chose, though the answer for the one before arrives after it', async () => {
    // The page's first list (queued) is held in the network until the reader's choice (completed) is drawn.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked = () => {};
    const sent = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const { page, problems } = await open(await dashboard(), {
      settle: false,
      before: async (page) => {
        await page.route(/\/api\/jobs\?state=queued/, async (route) => {
          asked();
          await held;
          await route.continue();
        });
      },
    });
    await sent;
    await page.locator('#states [data-state="completed"]').click();
    await eventually(() => page.locator(`#jobs tr[data-handle="${hostile}"]`).count()).toBe(1);
    // Whether the reader's list is ever drawn without the row: the late answer, drawn over it, would do that.
    // (Written as the page's own script: this project's types hold no DOM.)
    await page.evaluate(`{
      const list = document.querySelector('#jobs tbody');
      window.rowLost = false;
      new MutationObserver(() => {
        if (!list.querySelector('tr[data-handle="${hostile}"]')) window.rowLost = true;
      }).observe(list, { childList: true });
    }`);
    const lateAnswer = page.waitForResponse(/\/api\/jobs\?state=queued/);
    release();
    await lateAnswer;
    // The page has its turn with the late answer, and then draws the list again as the file changes.
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
    expect(await page.evaluate(() => (globalThis as { rowLost?: boolean }).rowLost)).toBe(false);
    expect(await page.locator(`#jobs tr[data-handle="${hostile}"]`).count()).toBe(1);
    expect(await page.locator('#states .active').textContent()).toBe('completed');
    expect(problems).toEqual([]);
  });

  it('read-only: shows the jobs and offers no action', async () => {
    const { page, problems } = await open(await dashboard('--read-only'));
    await eventually(() => page.locator('#mode').isVisible()).toBe(true);
    await eventually(() => page.locator('#functions tbody tr').count()).toBe(3);
    expect(await page.locator('#job-actions').isVisible()).toBe(false);
    expect(await page.locator('#functions button').count()).toBe(0);
    await shot(page, 'read-only');
    expect(problems).toEqual([]);
  });

  it('with a token: refused without it, let in with ?token= and then by its cookie', async () => {
    const url = await dashboard('--auth-token', token);
    const { page } = await open(url, { settle: false });
    expect(await page.locator('body').textContent()).toContain('this console needs its token');
    await page.goto(`${url}?token=${token}`);
    await eventually(() => page.locator('#functions tbody tr').count()).toBe(3);
    expect(page.url()).toBe(url);
    await shot(page, 'with-token');
  });
});
