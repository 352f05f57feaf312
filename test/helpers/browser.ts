import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium, as `.ci/run` installs it, with the flags of issue 12. */
export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** A headless chromium closed when the test ends, pass or fail. */
export async function useBrowser(t: { after: (fn: () => Promise<void>) => void }): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  t.after(async () => {
    await browser.close().catch(() => {});
  });
  return browser;
}

/** A fresh browser profile (own cookies) whose page errors and CSP violations are collected. */
export async function newPage(
  browser: Browser,
  viewport = { width: 1280, height: 800 },
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Refusals the test provokes on purpose (401/403, the 400 of invalid rules) are not problems.
    if (m.type() === 'error' && !/status of 40[013]/.test(m.text()))
      problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  return { context, page, problems };
}

/** Signs in on the dashboard's sign-in form and waits for the signed-in header. */
export async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(base);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor();
}
