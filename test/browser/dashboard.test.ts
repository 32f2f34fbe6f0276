/**
 * The operator dashboard in a real headless browser (Debian's chromium through playwright-core): three
 * fake nodes behind fnlb with its admin listener and a token. Sign in with /?token=, every node shows up,
 * traffic shows as req/s, a killed node turns down within seconds, the lookup box ranks the three nodes,
 * and without a session / leads to the login form, which lets the right token in. A screenshot is left in
 * test-output/dashboard.png.
 *
 * Outside CI the test is skipped when /usr/bin/chromium is missing; in CI (CI set) it fails instead.
 * FNLB_DASHBOARD_TEST_URL=http://host:port points the browser steps at an admin listener already running
 * (a mock while developing; token FNLB_DASHBOARD_TEST_TOKEN, default "test-token"): no processes are started
 * and the steps that need them (traffic, killing a node) are left out.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { functionKey } from '../../src/index.js';
import { cleanup, DIST_DIR, fastHealthArgs, nodesArg, startBackends, startFnlb, type BackendProcess } from '../../harness/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = process.env.FNLB_DASHBOARD_TEST_TOKEN ?? 'dashboard-test-token-0123456789';
const EXTERNAL = process.env.FNLB_DASHBOARD_TEST_URL;
/** The repository root, from dist/test/browser/. */
const SCREENSHOT = resolve(DIST_DIR, '..', 'test-output', 'dashboard.png');

const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install chromium (apt-get install chromium)`);

let browser: Browser | undefined;
after(async () => {
  await browser?.close();
  await cleanup();
});

/** Sends `n` requests through fnlb, a few at a time. */
async function traffic(url: string, n: number): Promise<void> {
  const one = (i: number): Promise<void> =>
    new Promise((done, fail) => {
      const req = http.get(`${url}/r/app/fn${i % 5}`, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => done());
      });
      req.on('error', fail);
      req.setTimeout(3000, () => req.destroy(new Error('traffic request timed out')));
    });
  for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => one(i + j)));
}

async function nodeStates(page: Page): Promise<Record<string, string>> {
  const rows = await page.locator('[data-testid="node-row"]').all();
  const out: Record<string, string> = {};
  for (const r of rows) out[(await r.getAttribute('data-node'))!] = (await r.getAttribute('data-state'))!;
  return out;
}

test(
  'dashboard: sign in, nodes up, live req/s, a killed node goes down, lookup, login form',
  { skip: missing && `${CHROMIUM} not installed (apt-get install chromium); skipped outside CI`, timeout: 60_000 },
  async () => {
    let adminUrl: string;
    let backends: BackendProcess[] = [];
    let lbUrl = '';
    if (EXTERNAL !== undefined) {
      adminUrl = EXTERNAL.replace(/\/$/, '');
    } else {
      backends = await startBackends(3, 'D');
      const lb = await startFnlb([
        '--listen',
        '127.0.0.1:0',
        '--nodes',
        nodesArg(backends),
        '--admin-listen',
        '127.0.0.1:0',
        '--admin-token',
        TOKEN,
        ...fastHealthArgs(),
      ]);
      assert.ok(lb.adminUrl, 'fnlb reported no admin listener');
      adminUrl = lb.adminUrl;
      lbUrl = lb.url;
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 15_000 });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    context.setDefaultTimeout(8000);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // Signed in by the token in the address once; the cookie keeps the session and the token leaves the address bar.
    await page.goto(`${adminUrl}/?token=${encodeURIComponent(TOKEN)}`);
    assert.match(await page.title(), /fnlb/);
    assert.equal(new URL(page.url()).search, '', 'the token stays in the address bar');
    const rows = page.locator('[data-testid="node-row"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="node-row"][data-state="up"]').length === 3);
    const states = await nodeStates(page);
    assert.equal(Object.keys(states).length, 3, JSON.stringify(states));
    if (backends.length > 0) assert.deepEqual(states, Object.fromEntries(backends.map((b) => [b.id, 'up'])));
    await page.locator('[data-testid="unreachable-banner"]').waitFor({ state: 'hidden' });

    if (lbUrl !== '') {
      // Traffic through fnlb shows as live req/s (a delta between two polls, so keep it flowing a while).
      const load = (async () => {
        for (const end = Date.now() + 3000; Date.now() < end;) await traffic(lbUrl, 50);
      })();
      await page.waitForFunction(() =>
        [...document.querySelectorAll('[data-testid="node-rps"]')].some((c) => Number(c.getAttribute('data-value') || 0) > 0),
      );
      await load;
      await page.locator('[data-testid="function-row"]').first().waitFor();

      // A node process killed: its row turns down within a few seconds (fast health checks), and an event says so.
      const victim = backends[1]!;
      await victim.kill('SIGKILL');
      await page.locator(`[data-testid="node-row"][data-node="${victim.id}"][data-state="down"]`).waitFor({ timeout: 5000 });
      await page.locator(`[data-testid="event"][data-kind="node-down"][data-node="${victim.id}"]`).waitFor({ timeout: 5000 });
      assert.equal(await rows.count(), 3);
    } else {
      await page.waitForFunction(() =>
        [...document.querySelectorAll('[data-testid="node-rps"]')].some((c) => Number(c.getAttribute('data-value') || 0) > 0),
      );
      await page.locator('[data-testid="event"]').first().waitFor();
    }

    // Where does /r/app/fn go: its key, a target and all three nodes ranked.
    await page.locator('[data-testid="lookup-input"]').fill('/r/app/fn');
    await page.locator('[data-testid="lookup-button"]').click();
    const ranking = page.locator('[data-testid="lookup-result"] [data-testid="lookup-rank"]');
    await ranking.nth(2).waitFor();
    assert.equal(await ranking.count(), 3);
    assert.equal(await page.locator('[data-testid="lookup-key"]').textContent(), functionKey('/r/app/fn'));
    const target = await page.locator('[data-testid="lookup-target"]').textContent();
    assert.ok(target !== null && Object.keys(states).includes(target), `target ${target}`);

    mkdirSync(resolve(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`dashboard screenshot: ${SCREENSHOT}`);
    assert.deepEqual(pageErrors, [], 'script errors on the page');

    // Without a session: / leads to the login form; the right token gets in.
    const fresh = await browser.newContext();
    const login = await fresh.newPage();
    await login.goto(`${adminUrl}/`);
    assert.equal(new URL(login.url()).pathname, '/login');
    await login.locator('[data-testid="login-token"]').fill('wrong');
    await login.locator('[data-testid="login-button"]').click();
    await login.locator('[data-testid="login-error"]').waitFor();
    await login.locator('[data-testid="login-token"]').fill(TOKEN);
    await login.locator('[data-testid="login-button"]').click();
    await login.waitForURL((u) => u.pathname === '/');
    await login.locator('[data-testid="node-row"]').first().waitFor();
    assert.equal(await login.locator('[data-testid="node-row"]').count(), 3);
    await fresh.close();
    await context.close();
  },
);
