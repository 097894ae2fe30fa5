// The browser's side of the window's speed: how long after navigation the first timeline page
// is visible in Chromium, on a big store and, as the ceiling in the same run, on a store of one
// post. `node bench-window.mjs HOME [ROUNDS]`, HOME built by
// `cargo run --release --example bench-ui -- 100000 HOME` (.ci/run does it with 2,000).
// Reports p50 and p95 (docs/benchmarks.md); asserts nothing about time.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.GRAPEVINE_BIN ?? join(repo, "target/debug/grapevine");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const [big, roundsArg] = process.argv.slice(2);
assert.ok(big, "usage: node bench-window.mjs HOME [ROUNDS]");
const rounds = Number(roundsArg ?? 20);

/** p50 and p95 of the time from navigation to the first post shown, over `rounds` loads. */
async function firstPageVisible(browser, home) {
  const child = spawn(bin, ["--home", home, "ui", "--no-serve"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
    const url = line.match(/http:\/\/127\.0\.0\.1:\d+\/#[0-9a-f]+/)?.[0];
    assert.ok(url, `no link in: ${line}`);
    const page = await (await browser.newContext()).newPage();
    await page.goto(url);
    await page.locator("#posts li").first().waitFor();
    const times = [];
    for (let i = 0; i < rounds; i++) {
      await page.goto(new URL(url).origin + "/");
      await page.locator("#posts li").first().waitFor();
      // Milliseconds since this navigation began, as the page's own clock tells them.
      times.push(await page.evaluate(() => performance.now()));
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(rounds / 2)], p95: times[Math.min(rounds - 1, Math.floor(rounds * 0.95))] };
  } finally {
    // Gone before its home may be removed.
    const gone = new Promise((resolve) => child.once("exit", resolve));
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await gone;
    }
  }
}

const small = mkdtempSync(join(tmpdir(), "gv-bench-small-"));
try {
  for (const args of [["init", "--name", "small"], ["post", "the only post"]]) {
    const out = spawnSync(bin, ["--home", small, ...args], { encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
  }
  const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
  try {
    const ceiling = await firstPageVisible(browser, small);
    const measured = await firstPageVisible(browser, big);
    const ms = (x) => `${x.toFixed(0)} ms`;
    console.log(`| store | p50 | p95 | p95 ÷ ceiling p95 |`);
    console.log(`|---|---:|---:|---:|`);
    console.log(`| ceiling: one post | ${ms(ceiling.p50)} | ${ms(ceiling.p95)} | 1 |`);
    console.log(`| ${big} | ${ms(measured.p50)} | ${ms(measured.p95)} | ${(measured.p95 / ceiling.p95).toFixed(2)} |`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(small, { recursive: true, force: true });
}
