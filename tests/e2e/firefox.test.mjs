// The window in Debian's Firefox ESR, spoken to over WebDriver BiDi (Firefox's own remote
// protocol; Playwright's Firefox needs a patched build that cannot be installed here). A
// newcomer's path: create a diary, see the backup words, post, and see a post from the
// terminal arrive live, as text; the page logs no error (CSP included) and fits 360 px.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.GRAPEVINE_BIN ?? join(repo, "target/debug/grapevine");
const firefoxPath = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
const missing = [firefoxPath, bin].filter((p) => !existsSync(p));
const skip = missing.length > 0 && !process.env.CI ? `missing ${missing.join(", ")}` : false;

/** Firefox, headless, in a fresh profile that makes no connection of its own. */
async function launchFirefox() {
  const profile = mkdtempSync(join(tmpdir(), "gv-e2e-firefox-"));
  writeFileSync(join(profile, "user.js"), [
    'user_pref("app.update.enabled", false);',
    'user_pref("browser.shell.checkDefaultBrowser", false);',
    'user_pref("datareporting.policy.dataSubmissionEnabled", false);',
    'user_pref("network.captive-portal-service.enabled", false);',
    'user_pref("network.connectivity-service.enabled", false);',
    'user_pref("browser.safebrowsing.update.enabled", false);',
    'user_pref("extensions.update.enabled", false);',
  ].join("\n"));
  const child = spawn(firefoxPath, ["--headless", "--no-remote", "--profile", profile, "--remote-debugging-port", "0", "about:blank"],
    { stdio: ["ignore", "ignore", "pipe"] });
  const address = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    const timer = setTimeout(() => reject(new Error("Firefox did not start its WebDriver BiDi server")), 60000);
    lines.on("line", (line) => {
      const found = line.match(/WebDriver BiDi listening on (ws:\/\/\S+)/);
      if (found) { clearTimeout(timer); resolve(found[1]); }
    });
    child.on("exit", (code) => reject(new Error(`Firefox ended (${code}) before it listened`)));
  });
  const socket = new WebSocket(`${address}/session`);
  await new Promise((resolve, reject) => { socket.once("open", resolve); socket.once("error", reject); });
  let next = 0;
  const pending = new Map();
  const logged = [];
  socket.on("message", (data) => {
    const message = JSON.parse(data);
    if (message.id !== undefined && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.type === "error") reject(new Error(`${message.error}: ${message.message}`));
      else resolve(message.result);
    } else if (message.method === "log.entryAdded") {
      logged.push(`${message.params.level}: ${message.params.text}`);
    }
  });
  const send = (method, params) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    socket.send(JSON.stringify({ id, method, params }));
  });
  const started = await send("session.new", { capabilities: {} });
  await send("session.subscribe", { events: ["log.entryAdded"] });
  const { contexts } = await send("browsingContext.getTree", {});
  const context = contexts[0].context;
  return {
    send, context, logged, version: started.capabilities.browserVersion,
    /** The value of `expression` in the page (awaited when it is a promise). */
    async evaluate(expression) {
      const { result, exceptionDetails } = await send("script.evaluate", {
        expression, target: { context }, awaitPromise: true, resultOwnership: "none",
      });
      if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.text}`);
      return result.value;
    },
    /** Waits until `expression` is true in the page. */
    async until(expression, what, ms = 10000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await this.evaluate(`Boolean(${expression})`)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`Firefox: waited ${ms} ms for ${what}`);
    },
    async close() {
      await send("session.end", {}).catch(() => {});
      socket.close();
      child.kill("SIGTERM");
      await new Promise((r) => child.exitCode === null ? child.once("exit", r) : r());
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

test("in Firefox: a newcomer creates a diary, posts, and sees the terminal's posts live, as text", { skip }, async () => {
  const alice = mkdtempSync(join(tmpdir(), "gv-e2e-alice-"));
  const child = spawn(bin, ["--home", alice, "ui", "--no-serve"], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
  const url = line.match(/http:\/\/127\.0\.0\.1:\d+\/#[0-9a-f]+/)?.[0];
  assert.ok(url, `no link in: ${line}`);
  const firefox = await launchFirefox();
  try {
    await firefox.send("browsingContext.navigate", { context: firefox.context, url, wait: "complete" });
    await firefox.until(`!document.getElementById("first-run").hidden`, "the first-run form");
    assert.equal(await firefox.evaluate("location.hash"), "", "the secret leaves the address bar");
    await firefox.evaluate(`(() => {
      document.getElementById("name").value = "alice";
      [...document.querySelectorAll("button")].find((b) => b.textContent === "Create my diary").click();
    })()`);
    await firefox.until(`document.querySelectorAll("#words li").length === 24`, "the 24 backup words");
    await firefox.evaluate(`document.getElementById("wrote-them").click()`);
    await firefox.until(`document.body.dataset.live === "yes"`, "the live event stream");
    await firefox.evaluate(`(() => {
      document.getElementById("post-text").value = "Hello from Firefox";
      [...document.querySelectorAll("button")].find((b) => b.textContent === "Post").click();
    })()`);
    await firefox.until(`document.getElementById("posts").textContent.includes("Hello from Firefox")`, "the post");
    const hostile = '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>';
    const posted = spawnSync(bin, ["--home", alice, "post", hostile], { encoding: "utf8" });
    assert.equal(posted.status, 0, posted.stderr);
    await firefox.until(`document.getElementById("posts").textContent.includes(${JSON.stringify(hostile)})`,
      "the terminal's post, live");
    assert.equal(await firefox.evaluate("window.pwned === undefined && !document.querySelector('#posts img, #posts script')"), true);
    await firefox.send("browsingContext.setViewport", { context: firefox.context, viewport: { width: 360, height: 800 } });
    assert.equal(await firefox.evaluate("document.documentElement.scrollWidth <= 360"), true, "sideways scrolling at 360 px");
    const errors = firefox.logged.filter((l) => l.startsWith("error"));
    assert.deepEqual(errors, [], "the page logged errors");
    console.log(`Firefox ${firefox.version}: the newcomer's path works`);
  } finally {
    await firefox.close();
    // The window's process must be gone before its home is removed.
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    }
    rmSync(alice, { recursive: true, force: true });
  }
});
