// The API reference in headless Chromium: Scalar's vendored bundle renders the
// spec from the server alone (nothing is fetched from anywhere else, so it
// works offline), and the bundle arrives gzip-compressed and cacheable.
//
// Run through tests/node/run.sh (GATEHOUSE_URL: a server with open-api).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";

import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

test("the Scalar reference renders offline from the server's own assets", async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt install chromium)`);
  const origin = new URL(process.env.GATEHOUSE_URL).origin;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const context = await browser.newContext();
    const elsewhere = [];
    // Anything not from the server is refused and recorded: an offline machine.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const bundles = [];
    page.on("response", (r) => {
      if (r.url().includes("/reference/scalar-standalone-")) bundles.push(r);
    });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${origin}/api/auth/reference`);
    // The spec's operations and plugin tags appear once Scalar has rendered it.
    await page.getByText("Sign up with email and password").first().waitFor({ timeout: 30_000 });
    await page.getByText("two-factor", { exact: true }).first().waitFor({ timeout: 30_000 });
    assert.deepEqual(elsewhere, [], "requests that left the server");
    assert.deepEqual(errors, [], "page errors");
    assert.equal(bundles.length, 1);
    const headers = await bundles[0].allHeaders();
    assert.equal(headers["content-encoding"], "gzip");
    assert.match(headers["cache-control"], /immutable/);
  } finally {
    await browser.close();
  }
});
