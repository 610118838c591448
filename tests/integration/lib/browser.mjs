// The browser the page tests drive: Debian's chromium through playwright-core,
// headless, and contexts that can reach loopback only (anything else is aborted).
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
      '--disable-sync', '--disable-quic'],
  });
}

// A fresh context (its own cookie jar) whose requests may go to loopback only.
export async function loopbackContext(browser) {
  const ctx = await browser.newContext();
  await ctx.route((u) => !/^https?:\/\/(127\.0\.0\.1|localhost)(:|\/)/.test(u.href), (r) => r.abort());
  return ctx;
}
