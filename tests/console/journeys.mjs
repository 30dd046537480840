// The web console's six journeys (issue 14), in a real browser: playwright-core driving Debian's chromium
// headless against real `postdate dev` and `postdate serve` processes and a loopback receiver started here.
// Started by scripts/test; every journey saves screenshots under $POSTDATE_SCREENSHOTS.
//
//   POSTDATE_BIN=target/debug/postdate node tests/console/journeys.mjs
//
// Environment: POSTDATE_BIN (the binary, required), POSTDATE_CHROMIUM (default /usr/bin/chromium),
// POSTDATE_SCREENSHOTS (default target/console-screenshots).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const BIN = process.env.POSTDATE_BIN;
const CHROMIUM = process.env.POSTDATE_CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.POSTDATE_SCREENSHOTS || "target/console-screenshots";
const DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
const SERVE_TOKEN = "console-journey-admin-token-0123456789";
const READONLY_TOKEN = "console-journey-viewer-token-0123456789";
if (!BIN) throw new Error("POSTDATE_BIN must name the postdate binary");
mkdirSync(SHOTS, { recursive: true });

// ---------------------------------------------------------------------------------------------------
// A loopback receiver: /ok answers 200, /fail 500, /flaky/<key> 500 the first time and 200 after that,
// /evil serves a cross-site form that posts to the console without a CSRF token.
// ---------------------------------------------------------------------------------------------------

const seen = new Map();
const received = [];
const receiver = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    received.push({ method: req.method, url: req.url, body });
    if (req.url.startsWith("/ok")) return res.writeHead(200).end("ok");
    if (req.url.startsWith("/fail")) return res.writeHead(500, { "content-type": "text/plain" }).end("receiver says no");
    if (req.url.startsWith("/flaky/")) {
      const first = !seen.has(req.url);
      seen.set(req.url, true);
      return first
        ? res.writeHead(503, { "content-type": "text/plain" }).end("not yet, try again")
        : res.writeHead(200).end("ok now");
    }
    if (req.url.startsWith("/evil")) {
      const target = new URL(req.url, "http://x").searchParams.get("target");
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(`<form id="f" method="post" action="${target}"><input name="url" value="${RECEIVER}/ok/csrf"></form>
        <script>document.getElementById("f").submit()</script>`);
    }
    res.writeHead(404).end();
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const RECEIVER = `http://127.0.0.1:${receiver.address().port}`;

// ---------------------------------------------------------------------------------------------------
// postdate processes
// ---------------------------------------------------------------------------------------------------

const children = [];
const dirs = [];

async function freePort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function start(mode, env) {
  const dir = mkdtempSync(path.join(tmpdir(), `postdate-console-${mode}-`));
  dirs.push(dir);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(BIN, [mode, "--listen", `127.0.0.1:${port}`, "--database-url", `sqlite://${dir}/db.sqlite`], {
    env: { ...process.env, ...env, RUST_LOG: "warn" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (chunk) => (log += chunk));
  children.push(child);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return base;
    } catch (_) { /* not listening yet */ }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`postdate ${mode} did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopAll() {
  for (const child of children) child.kill("SIGTERM");
  receiver.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

const dev = await start("dev", {});

// A workflow app around the official @upstash/workflow SDK (tests/workflow/js, installed by scripts/test), in
// the SDK's dev mode against the dev server, and the SDK's Client as a command: what a user runs.
const WORKFLOW_JS = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../workflow/js");
const workflowEnv = { ...process.env, QSTASH_DEV: "true", QSTASH_DEV_PORT: new URL(dev).port };
const workflowApp = spawn("node", [path.join(WORKFLOW_JS, "server.mjs"), "0"], {
  env: { ...workflowEnv, WORKFLOW_EVENTS_FILE: path.join(dirs[0], "workflow-events.jsonl") },
  stdio: ["ignore", "pipe", "ignore"],
});
children.push(workflowApp);
const WORKFLOWS = await new Promise((resolve, reject) => {
  workflowApp.stdout.once("data", (line) => {
    const port = String(line).trim().replace(/^listening /, "");
    resolve(`http://127.0.0.1:${port}`);
  });
  workflowApp.once("exit", (code) => reject(new Error(`the workflow app exited (${code})`)));
});

/** The SDK Client's `client.trigger(arg)`: the new run's id. */
function triggerWorkflow(arg) {
  const output = execFileSync("node", [path.join(WORKFLOW_JS, "trigger.mjs"), "trigger", JSON.stringify(arg)], { env: workflowEnv });
  // In dev mode the SDK says so on stdout first: the answer is the last line.
  const answer = String(output).trim().split("\n").pop();
  return JSON.parse(answer).workflowRunId;
}
const serve = await start("serve", {
  QSTASH_TOKEN: SERVE_TOKEN,
  POSTDATE_READONLY_TOKEN: READONLY_TOKEN,
  POSTDATE_ALLOW_DESTINATIONS: "127.0.0.0/8",
});

async function api(base, token, method, target, { headers = {}, body } = {}) {
  const response = await fetch(`${base}${target}`, { method, headers: { authorization: `Bearer ${token}`, ...headers }, body });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

// ---------------------------------------------------------------------------------------------------
// Browser helpers
// ---------------------------------------------------------------------------------------------------

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Reloads the page until `check` passes (the engine delivers in the background), for up to 15 s. */
async function until(page, what, check) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${error.message}`);
    }
    await page.waitForTimeout(250);
    await page.reload();
  }
}

async function sendFromForm(page, base, fields) {
  await page.goto(`${base}/console/send`);
  await page.fill("#url", fields.url);
  if (fields.body) await page.fill("#body", fields.body);
  if (fields.delay) await page.fill("#delay", fields.delay);
  if (fields.retries !== undefined) await page.fill("#retries", String(fields.retries));
  await Promise.all([page.waitForURL(/\/console\/messages\/msg_/), page.click("button:has-text('Send')")]);
  return decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
}

const stateOf = (page) => page.locator(".summary .badge").first().innerText();

// ---------------------------------------------------------------------------------------------------
// The journeys
// ---------------------------------------------------------------------------------------------------

const journeys = {
  async "1. dev opens on the overview; a test message from the form is delivered with one attempt"() {
    let page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${dev}/`);
    assert.match(page.url(), /\/console\/$/);
    assert.equal(await page.locator("h1").innerText(), "Overview");
    await shot(page, "1-overview");
    const overview = page;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await sendFromForm(page, dev, { url: `${RECEIVER}/ok/journey-1`, body: "hello from the console", retries: 0 });
    await until(page, "DELIVERED", async () => assert.equal(await stateOf(page), "DELIVERED"));
    assert.equal(await page.locator("#retried").innerText(), "1");
    assert.equal(await page.locator("#log tbody tr:has-text('DELIVERED')").count(), 1);
    assert.ok(received.some((r) => r.url === "/ok/journey-1" && r.body === "hello from the console"));
    await shot(page, "1-delivered");
    // The overview opened before the message was sent refreshes itself: its chart now counts the delivery.
    await overview.locator("figcaption", { hasText: "Last hour: 1 delivered" }).waitFor({ timeout: 10_000 });
    await shot(overview, "1-overview-refreshed");
    await overview.close();
    await page.close();
  },

  async "2. a failed message lands in the DLQ with its last response; Retry delivers it and it leaves"() {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const id = await sendFromForm(page, dev, { url: `${RECEIVER}/flaky/journey-2`, body: "{\"order\":42}", retries: 0 });
    await until(page, "FAILED", async () => assert.equal(await stateOf(page), "FAILED"));
    await page.goto(`${dev}/console/dlq?messageId=${id}`);
    await Promise.all([page.waitForURL(/\/console\/dlq\/.+/), page.click("table a.mono")]);
    assert.equal(await page.locator("#response-status").innerText(), "503");
    assert.match(await page.locator("#last-response pre.body").innerText(), /not yet, try again/);
    await shot(page, "dlq-entry");
    await Promise.all([page.waitForURL(/\/console\/messages\/msg_/), page.click("button:has-text('Retry')")]);
    await until(page, "the retried message DELIVERED", async () => assert.equal(await stateOf(page), "DELIVERED"));
    await shot(page, "2-retried-delivered");
    await page.goto(`${dev}/console/dlq?messageId=${id}`);
    assert.match(await page.locator(".empty").innerText(), /No DLQ entry matches/);
    await page.close();
  },

  async "3. a Berlin cron previews five Mondays at 09:00 Berlin time; pause, resume, delete"() {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${dev}/console/schedules/new`);
    await page.fill("#cron", "0 9 * * 8");
    await page.locator("#cron-live").waitFor({ state: "visible" });
    assert.match(await page.locator("#cron-live").innerText(), /day-of-week/);
    await page.fill("#cron", "CRON_TZ=Europe/Berlin 0 9 * * 1");
    await page.locator("#cron-preview li").nth(4).waitFor();
    const fires = await page.locator("#cron-preview li").allInnerTexts();
    assert.equal(fires.length, 5);
    for (const fire of fires) assert.match(fire, /^Mon \d{4}-\d{2}-\d{2} 09:00 CES?T$/);
    assert.match(await page.locator("#cron-preview p").innerText(), /every Monday at 09:00 \(Europe\/Berlin time\)/);
    await page.fill("#url", `${RECEIVER}/ok/weekly`);
    await page.fill("#id", "weekly-report");
    await shot(page, "3-schedule-form");
    await Promise.all([page.waitForURL(/\/console\/schedules$/), page.click("button:has-text('Save schedule')")]);
    const card = page.locator("[data-schedule='weekly-report']");
    assert.match(await card.innerText(), /every Monday at 09:00/);
    await card.locator("button:has-text('Pause')").click();
    await card.locator(".paused").waitFor();
    await shot(page, "3-paused");
    await card.locator("button:has-text('Resume')").click();
    await card.locator(".badge.good").waitFor();
    await card.locator("button:has-text('Delete')").click();
    await page.locator(".empty").waitFor();
    assert.equal(await page.locator("[data-schedule='weekly-report']").count(), 0);
    await page.close();
  },

  async "4. Run now delivers a delayed message at once, its attempt count unchanged"() {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const id = await sendFromForm(page, dev, { url: `${RECEIVER}/ok/journey-4`, delay: "1h", retries: 2 });
    assert.equal(await stateOf(page), "CREATED");
    assert.equal(await page.locator("#retried").innerText(), "0");
    await shot(page, "4-delayed");
    await page.click("button:has-text('Run now')");
    await until(page, "DELIVERED", async () => assert.equal(await stateOf(page), "DELIVERED"));
    assert.equal(await page.locator("#retried").innerText(), "1", "one attempt: running now added none");
    const { json } = await api(dev, DEV_TOKEN, "GET", `/v2/messages/${id}`);
    assert.equal(json.retried, 0);
    assert.equal(received.filter((r) => r.url === "/ok/journey-4").length, 1);
    await shot(page, "4-run-now-delivered");
    await page.close();
  },

  async "5. serve: wrong tokens are refused; the read-only token sees no actions and cannot post; CSRF holds"() {
    const viewer = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await viewer.newPage();
    await page.goto(`${serve}/`);
    assert.match(page.url(), /\/console\/sign-in$/);
    await page.fill("#token", "not-the-token");
    await page.click("button:has-text('Sign in')");
    assert.match(await page.locator("#token-error").innerText(), /not accepted/);
    await shot(page, "5-wrong-token");
    await page.fill("#token", READONLY_TOKEN);
    await Promise.all([page.waitForURL(/\/console\/$/), page.click("button:has-text('Sign in')")]);
    assert.equal(await page.locator(".badge.readonly").innerText(), "read-only");
    const { status } = await api(serve, SERVE_TOKEN, "POST", `/v2/publish/${RECEIVER}/fail/journey-5`, { headers: { "upstash-retries": "0", "upstash-delay": "1h" } });
    assert.equal(status, 201);
    for (const target of ["/console/", "/console/messages", "/console/dlq", "/console/workflows", "/console/schedules", "/console/queues", "/console/keys"]) {
      await page.goto(`${serve}${target}`);
      const posts = await page.locator("form[method='post']:not([action='/console/sign-out'])").count();
      assert.equal(posts, 0, `${target} shows no actions to the read-only token`);
    }
    await page.goto(`${serve}/console/messages`);
    await page.click("table a.mono");
    assert.equal(await page.locator("button:has-text('Run now')").count(), 0);
    await shot(page, "5-read-only-message");
    const csrf = await page.locator("meta[name='csrf-token']").getAttribute("content");
    const forged = await page.request.post(`${serve}/console/send`, { form: { url: `${RECEIVER}/ok`, _csrf: csrf } });
    assert.equal(forged.status(), 403, "a forged POST with the read-only session is refused");
    const apiPost = await api(serve, READONLY_TOKEN, "POST", `/v2/publish/${RECEIVER}/ok`);
    assert.equal(apiPost.status, 403);
    assert.match(apiPost.json.error, /read-only/);
    assert.equal((await api(serve, READONLY_TOKEN, "GET", "/v2/messages")).status, 200);
    await viewer.close();

    const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const adminPage = await admin.newPage();
    await adminPage.goto(`${serve}/console/sign-in`);
    await adminPage.fill("#token", SERVE_TOKEN);
    await Promise.all([adminPage.waitForURL(/\/console\/$/), adminPage.click("button:has-text('Sign in')")]);
    await adminPage.goto(`${RECEIVER}/evil?target=${encodeURIComponent(`${serve}/console/send`)}`);
    await adminPage.waitForURL(`${serve}/console/send`);
    assert.match(await adminPage.locator("body").innerText(), /CSRF/);
    await shot(adminPage, "5-csrf-refused");
    const withoutToken = await adminPage.request.post(`${serve}/console/send`, { form: { url: `${RECEIVER}/ok/csrf` } });
    assert.equal(withoutToken.status(), 403);
    const published = await api(serve, SERVE_TOKEN, "GET", `/v2/messages?url=${encodeURIComponent(`${RECEIVER}/ok/csrf`)}`);
    assert.deepEqual(published.json.messages, [], "nothing was published");
    await admin.close();
  },

  async "6. bulk retry of the DLQ entries with a label states the exact count first"() {
    for (let i = 0; i < 3; i++) {
      const r = await api(dev, DEV_TOKEN, "POST", `/v2/publish/${RECEIVER}/fail/bulk-${i}`, { headers: { "upstash-retries": "0", "upstash-label": "nightly-import" }, body: `item ${i}` });
      assert.equal(r.status, 201);
    }
    await api(dev, DEV_TOKEN, "POST", `/v2/publish/${RECEIVER}/fail/other`, { headers: { "upstash-retries": "0", "upstash-label": "other" } });
    const deadline = Date.now() + 15_000;
    while ((await api(dev, DEV_TOKEN, "GET", "/v2/dlq?label=nightly-import")).json.messages.length < 3) {
      assert.ok(Date.now() < deadline, "three entries reach the DLQ");
      await new Promise((r) => setTimeout(r, 100));
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${dev}/console/dlq?label=nightly-import`);
    assert.equal(await page.locator("table tbody tr").count(), 3);
    await Promise.all([page.waitForURL(/\/console\/dlq\/bulk$/), page.click("button:has-text('Retry all matching')")]);
    assert.equal(await page.locator("#confirm-title").innerText(), "Retry 3 DLQ entries?");
    assert.match(await page.locator("#confirm-count").innerText(), /exactly 3 entries/);
    await shot(page, "6-bulk-confirm");
    await Promise.all([page.waitForURL(/\/console\/dlq\?/), page.click("button:has-text('Yes, retry 3')")]);
    assert.match(await page.locator(".notice").innerText(), /Retried 3 entries/);
    const other = await api(dev, DEV_TOKEN, "GET", "/v2/dlq?label=other");
    assert.equal(other.json.messages.length, 1, "the entry without the label was not retried");
    await shot(page, "6-bulk-done");
    // The overview with something to show, for the README.
    const schedule = await api(dev, DEV_TOKEN, "POST", `/v2/schedules/${RECEIVER}/ok/nightly`, { headers: { "upstash-cron": "CRON_TZ=Europe/Berlin 0 2 * * *", "upstash-schedule-id": "nightly-backup" } });
    assert.equal(schedule.status, 200);
    await api(dev, DEV_TOKEN, "POST", `/v2/publish/${RECEIVER}/ok/later`, { headers: { "upstash-delay": "2h" } });
    await page.goto(`${dev}/console/`);
    await page.locator("text=nightly-backup").waitFor();
    await shot(page, "overview");
    await page.close();
  },

  async "7. workflows: a run's steps as a timeline; a failed run resumed from its failed step; a sleeping run canceled"() {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const sequential = triggerWorkflow({ url: `${WORKFLOWS}/wf/sequential`, body: { input: "console" }, label: "journey-7" });
    const flaky = triggerWorkflow({ url: `${WORKFLOWS}/wf/flaky`, body: {}, retries: 0 });
    const sleeping = triggerWorkflow({ url: `${WORKFLOWS}/wf/sleep`, body: { sleep: "1h" } });

    await page.goto(`${dev}/console/workflows`);
    await page.selectOption("select[name='state']", "RUN_SUCCESS");
    await page.fill("input[name='label']", "journey-7");
    await Promise.all([page.waitForURL(/state=RUN_SUCCESS/), page.click("button:has-text('Filter')")]);
    await until(page, "the sequential run succeeded", async () => assert.equal(await page.locator(`tr[data-run='${sequential}']`).count(), 1));
    assert.equal(await page.locator("#runs tbody tr").count(), 1, "only the labelled successful run");
    await Promise.all([page.waitForURL(/\/console\/workflows\/wfr_/), page.click(`a:has-text('${sequential}')`)]);
    const names = await page.locator("#timeline .step strong").allInnerTexts();
    assert.deepEqual(names, ["step-1", "step-2", "step-3"]);
    assert.match(await page.locator("#timeline .step[data-step='step-2'] pre").innerText(), /one:console\|two/);
    assert.match(await page.locator("#run-result").innerText(), /three/);
    await shot(page, "7-workflow-timeline");

    await page.goto(`${dev}/console/workflows/${flaky}`);
    await until(page, "the flaky run failed", async () => assert.equal(await page.locator("#run-state").innerText(), "RUN_FAILED"));
    assert.equal(await page.locator("#timeline .step[data-step='before'] .badge.good").innerText(), "STEP_SUCCESS");
    assert.ok((await page.locator("#timeline .badge.bad").allInnerTexts()).includes("STEP_FAILED"));
    assert.ok(await page.locator("#timeline li.error").count() >= 1, "the failed attempt's error is shown");
    await shot(page, "7-workflow-failed");
    assert.equal((await fetch(`${WORKFLOWS}/control/heal`, { method: "POST" })).status, 200);
    await Promise.all([page.waitForURL(/\/console\/workflows\/wfr_.*done=/), page.click("#run-dlq button:has-text('Resume')")]);
    const resumed = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    assert.notEqual(resumed, flaky, "a new run");
    await until(page, "the resumed run succeeded", async () => assert.equal(await page.locator("#run-state").innerText(), "RUN_SUCCESS"));
    assert.deepEqual(await page.locator("#timeline .step strong").allInnerTexts(), ["before", "fragile"], "the finished step kept, the failed one run");
    const dlq = await api(dev, DEV_TOKEN, "GET", `/v2/dlq?source=workflow&workflowRunId=${flaky}`);
    assert.deepEqual(dlq.json.messages, [], "the DLQ entry was taken");
    await shot(page, "7-workflow-resumed");

    await page.goto(`${dev}/console/workflows/${sleeping}`);
    await until(page, "the sleeping run's first step", async () => assert.equal(await page.locator("#timeline .step[data-step='start']").count(), 1));
    await Promise.all([page.waitForURL(/done=/), page.click("button:has-text('Cancel run')")]);
    assert.match(await page.locator(".notice").innerText(), /Canceled the run/);
    assert.equal(await page.locator("#run-state").innerText(), "RUN_CANCELED");
    assert.equal(await page.locator("button:has-text('Cancel run')").count(), 0);
    await shot(page, "7-workflow-canceled");
    await page.close();
  },
};

let failed = 0;
try {
  for (const [name, journey] of Object.entries(journeys)) {
    const started = Date.now();
    try {
      await journey();
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${name}\n${error.stack}`);
    }
  }
} finally {
  await browser.close();
  stopAll();
}
console.log(`console journeys: ${Object.keys(journeys).length - failed} passed, ${failed} failed; screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
