// Records the wire traffic of the pinned Upstash Workflow SDK (@upstash/workflow 1.3.3 on @upstash/qstash 2.12.0).
//
//   node tools/record.mjs [--out DIR] [scenario ...]      (default: every scenario, DIR docs/workflow/transcripts)
//   node tools/record.mjs --list
//
// It plays just enough of the server role (a fake QStash on 127.0.0.1, loopback only) to drive the SDK through each
// scenario: it answers the SDK's requests, keeps each run's history, and delivers every message to ../server.mjs
// (spawned as a child process, with QSTASH_URL pointing at the fake) signed with the public dev keys. Each scenario's
// transcript (every request the SDK made to the fake and every delivery the fake made to the app, with method,
// path, query, headers, body and the answer) is written to DIR/<scenario>.json together with the events server.mjs
// recorded. Nothing here is secret: the token and keys are Upstash's public dev credentials.
//
// The fake's choices (delivery headers, history cuts, callback shapes, failure-callback bodies) are ours: they are
// what the SDK's dist says it needs, and the transcripts show the SDK accepting them. Where a scenario feeds the SDK
// a shape it must refuse (e.g. a call callback carrying Upstash-Workflow-Sdk-Version), the transcript shows that too.
import http from "node:http";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Client } from "@upstash/workflow";
import { Client as QStashClient } from "@upstash/qstash";

const here = path.dirname(fileURLToPath(import.meta.url));
const jsDir = path.resolve(here, "..");
const repoRoot = path.resolve(jsDir, "../../..");

const DEV = {
  token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
  current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
  next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
};

// ------------------------------------------------------------------------------------------------ small helpers

const b64 = (s) => Buffer.from(s ?? "", "utf8").toString("base64");
const unb64 = (s) => Buffer.from(s ?? "", "base64").toString("utf8");
const b64url = (buf) => Buffer.from(buf).toString("base64url");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tryJson = (s) => {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};
let idCounter = 0;
const newId = (prefix) => `${prefix}_${(++idCounter).toString().padStart(4, "0")}${crypto.randomBytes(4).toString("hex")}`;

function sign(url, body, key = DEV.current) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "HS256", typ: "JWT" };
  const payload = {
    iss: "Upstash",
    sub: url,
    exp: now + 300,
    nbf: 0,
    iat: now,
    jti: `jwt_${crypto.randomBytes(8).toString("hex")}`,
    body: crypto.createHash("sha256").update(body ?? "", "utf8").digest("base64url") + "=",
  };
  const si = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${si}.${b64url(crypto.createHmac("sha256", key).update(si).digest())}`;
}

function parseDuration(v) {
  if (v === undefined || v === null || v === "") return 0;
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(String(v).trim());
  if (!m) return 0;
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "s"];
}

const sortedHeaders = (h) => Object.fromEntries(Object.entries(h).sort(([a], [b]) => a.localeCompare(b)));

function lower(h) {
  const out = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
  return out;
}

// Decodes a delivery body (a history) for the transcript: each entry's base64 body shown decoded.
function decodeHistory(text) {
  const arr = tryJson(text);
  if (!Array.isArray(arr)) return undefined;
  return arr.map((e) => ({ ...e, bodyDecoded: tryJson(unb64(e.body)) ?? unb64(e.body) }));
}

// ------------------------------------------------------------------------------------------------ the transcript

let transcript = [];
let seq = 0;
const t0 = { value: Date.now() };
function log(entry) {
  const e = { seq: ++seq, t: Date.now() - t0.value, ...entry };
  transcript.push(e);
  return e;
}

// ------------------------------------------------------------------------------------------------ the fake server

const mode = {
  lazy: false, // deliver empty bodies (LazyFetch): the SDK fetches GET /v2/workflows/runs/{id}
  uncut: false, // deliver the whole history known at delivery time instead of cutting it at the delivered message
  callbackWithVersion: false, // put Upstash-Workflow-Sdk-Version: 1 on call-callback deliveries (the SDK breaks)
  callbackEmptyBody: false, // deliver call callbacks with an empty body (the SDK breaks)
  rejectStepsWith: 0, // answer step publishes (Init false) with this status (400, 412)
  detectNonWorkflow: true, // WF_DetectTrigger: fail a run whose first delivery answer lacks Upstash-Workflow-Sdk-Version
};

const runs = new Map(); // runId -> run
const waiters = []; // {eventId, runId, url, step, headers, timeoutUrl, timeoutHeaders, deadline, timer}
const lookback = new Map(); // `${runId}/${eventId}` -> raw event data
let pending = 0; // timers and deliveries in flight
let fakePort = 0;
let appPort = 0;

function track(promise) {
  pending++;
  return promise.finally(() => pending--);
}
function later(ms, fn) {
  pending++;
  setTimeout(() => {
    Promise.resolve()
      .then(fn)
      .catch((e) => process.stderr.write(`record: ${e.stack}\n`))
      .finally(() => pending--);
  }, ms);
}

// Forwarded headers the fake does not deliver: hop-by-hop and framing headers (the SDK's own trigger forwards every
// header of the request it received, content-length and host included, which would corrupt the delivery), and the
// delivery metadata the server sets itself.
const NOT_FORWARDED = new Set([
  "content-length", "host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "trailer",
  "upstash-signature", "upstash-message-id", "upstash-retried",
]);
const forwardsOf = (headers) => {
  const out = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!k.startsWith("upstash-forward-")) continue;
    const name = k.slice(16);
    if (!NOT_FORWARDED.has(name)) out[name] = v;
  }
  return out;
};
const prefixed = (headers, prefix) => {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
};

// One published message (a batch item or a publish). Returns the answer item.
function acceptMessage(destination, headers, body, { via }) {
  headers = lower(headers);
  const messageId = newId("msg");
  const runId = headers["upstash-workflow-runid"];
  const init = headers["upstash-workflow-init"] === "true";
  const callType = headers["upstash-workflow-calltype"] ?? "step";
  const delayMs = headers["upstash-delay"]
    ? parseDuration(headers["upstash-delay"])
    : headers["upstash-not-before"]
      ? Math.max(0, Number(headers["upstash-not-before"]) * 1000 - Date.now())
      : 0;
  const wait = Math.min(delayMs, 4000); // the fake shortens long waits; the transcript keeps the headers

  if (!runId) {
    // a plain QStash message: deliver it once, no workflow semantics
    later(wait, () => deliverPlain(destination, headers, body, messageId));
    return { messageId, url: destination };
  }

  if (callType === "toCallback") {
    const run = runs.get(runId);
    if (!run || run.ended) return { status: 400, error: "failed to publish to url: can not append to a a cancelled workflow" };
    run.history.push({ messageId, body: b64(body), callType: "toCallback" });
    later(wait, () => performCall(run, destination, headers, body, messageId));
    return { messageId, url: destination };
  }

  if (init) {
    const existing = runs.get(runId);
    const bySdk = headers["upstash-workflow-trigger-by-sdk"] === "true";
    if (existing && !bySdk) return { messageId: existing.history[0].messageId, url: destination, deduplicated: true };
    const invoke = headers["upstash-workflow-invoke"] === "true";
    const invokeRequest = invoke ? tryJson(body) : undefined;
    const initialBody = invoke ? (invokeRequest?.body ?? "") : (body ?? "");
    const run = {
      runId,
      url: destination,
      createdAt: existing?.createdAt ?? Date.now(),
      history: [{ messageId, body: b64(initialBody), callType: "step" }],
      retries: headers["upstash-retries"] !== undefined ? Number(headers["upstash-retries"]) : 3,
      retryDelay: headers["upstash-retry-delay"],
      failureUrl: headers["upstash-failure-callback"],
      failureOptions: prefixed(headers, "upstash-failure-callback-"),
      forwards: forwardsOf(headers),
      label: headers["upstash-label"],
      contentType: headers["content-type"],
      invoker: invokeRequest ? { ...invokeRequest, body: undefined } : undefined,
      ended: false,
      firstDelivered: false,
    };
    runs.set(runId, run);
    later(wait, () => deliverStep(run, run.history[0]));
    return { messageId, url: destination };
  }

  const run = runs.get(runId);
  if (mode.rejectStepsWith) return { status: mode.rejectStepsWith, error: `rejected by the recorder (${mode.rejectStepsWith})` };
  if (!run || run.ended) return { status: 400, error: "failed to publish to url: can not append to a a cancelled workflow" };
  const entry = { messageId, body: b64(body), callType, headers, destination };
  run.history.push(entry);
  later(wait, () => deliverStep(run, entry));
  return { messageId, url: destination };
}

function deliveryHeaders(run, entry, extra = {}) {
  const own = entry.headers ? forwardsOf(entry.headers) : {};
  return {
    "content-type": entry.headers?.["content-type"] ?? run.contentType ?? "application/json",
    "user-agent": "Upstash-QStash",
    ...run.forwards,
    ...own,
    "upstash-workflow-runid": run.runId,
    "upstash-workflow-createdat": String(run.createdAt),
    "upstash-message-id": entry.messageId,
    ...extra,
  };
}

function historyFor(run, entry) {
  const i = run.history.indexOf(entry);
  const upto = mode.uncut ? run.history : run.history.slice(0, i + 1);
  return upto.map(({ messageId, body, callType }) => ({ messageId, body, callType }));
}

async function send(kind, url, method, headers, body) {
  const h = { ...headers, "upstash-signature": headers["upstash-signature"] ?? sign(url, body) };
  const u = new URL(url);
  const entry = {
    dir: "fake→app",
    kind,
    method,
    url,
    path: u.pathname,
    headers: sortedHeaders(h),
    body,
    ...(decodeHistory(body) ? { bodyDecoded: decodeHistory(body) } : tryJson(body) !== undefined ? { bodyJson: tryJson(body) } : {}),
  };
  const logged = log(entry); // logged when sent; the answer is filled in when it arrives
  let answer;
  try {
    const res = await fetch(url, { method, headers: h, body: method === "GET" || method === "HEAD" ? undefined : body });
    const text = await res.text();
    const rh = {};
    res.headers.forEach((v, k) => (rh[k] = v));
    answer = { status: res.status, headers: sortedHeaders(rh), body: tryJson(text) ?? text };
  } catch (error) {
    answer = { status: 0, error: String(error) };
  }
  logged.answer = answer;
  logged.answeredAt = Date.now() - t0.value;
  return answer;
}

async function deliverStep(run, entry, retried = 0) {
  if (run.ended) return;
  const body = mode.lazy ? "" : JSON.stringify(historyFor(run, entry));
  const headers = deliveryHeaders(run, entry, { "upstash-retried": String(retried) });
  const answer = await send(entry === run.history[0] ? "first-delivery" : "step-delivery", run.url, "POST", headers, body);
  if (!run.firstDelivered && entry === run.history[0]) {
    run.firstDelivered = true;
    if (mode.detectNonWorkflow && answer.status >= 200 && answer.status < 300 && !answer.headers?.["upstash-workflow-sdk-version"]) {
      log({ dir: "note", note: `WF_DetectTrigger: first delivery answered without Upstash-Workflow-Sdk-Version: run ${run.runId} failed` });
      run.ended = "failed";
      return;
    }
  }
  await afterAttempt(run, entry, answer, retried, () => deliverStep(run, entry, retried + 1));
}

async function afterAttempt(run, entry, answer, retried, retry) {
  if (answer.status >= 200 && answer.status < 300) return;
  const nonRetryable = answer.status === 489 && answer.headers?.["upstash-nonretryable-error"] === "true";
  if (!nonRetryable && retried < run.retries) {
    const ra = Number(answer.headers?.["retry-after"] ?? "");
    later(Number.isFinite(ra) && ra > 0 ? ra * 1000 : 300, retry);
    return;
  }
  await failRun(run, entry, answer, retried);
}

async function failRun(run, entry, answer, retried) {
  if (run.ended) return;
  run.ended = "failed";
  log({ dir: "note", note: `run ${run.runId} failed after ${retried} retries (last status ${answer.status})` });
  if (run.failureUrl) {
    const fo = run.failureOptions;
    const headers = {
      "content-type": "application/json",
      "user-agent": "Upstash-QStash",
      ...forwardsOf(Object.fromEntries(Object.entries(fo).map(([k, v]) => [`upstash-${k}`, v]))),
      "upstash-workflow-runid": fo["workflow-runid"] ?? run.runId,
      "upstash-workflow-createdat": String(run.createdAt),
      "upstash-message-id": newId("msg"),
      "upstash-retried": "0",
    };
    const bodyText = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
    const failureBody = JSON.stringify({
      status: answer.status,
      header: Object.fromEntries(Object.entries(answer.headers ?? {}).map(([k, v]) => [k, [v]])),
      body: b64(bodyText),
      retried,
      maxRetries: run.retries,
      dlqId: newId("dlq"),
      sourceMessageId: entry.messageId,
      url: run.url,
      method: "POST",
      sourceHeader: {},
      sourceBody: run.history[0].body,
      workflowRunId: run.runId,
      workflowCreatedAt: run.createdAt,
    });
    await send("failure-callback", run.failureUrl, "POST", headers, failureBody);
  }
  if (run.invoker) {
    const bodyText = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
    await publishInvokeResult(run, { body: bodyText, isFailed: true, isCanceled: false });
  }
}

async function publishInvokeResult(child, out) {
  const inv = child.invoker;
  const headers = lower(inv.headers);
  const step = { ...inv.step, out: JSON.stringify(out) };
  log({ dir: "note", note: `child run ${child.runId} ended: publishing the invoke result to ${inv.workflowUrl}`, step });
  const a = acceptMessage(inv.workflowUrl, headers, JSON.stringify(step), { via: "invoke-result" });
  if (a.status) log({ dir: "note", note: `invoke result refused: ${a.status} ${a.error}` });
}

async function performCall(run, destination, headers, body, messageId, retried = 0) {
  const method = headers["upstash-method"] ?? "GET";
  const fwd = forwardsOf(headers);
  if (headers["content-type"]) fwd["content-type"] = headers["content-type"];
  const answer = await send("call", destination, method, { ...fwd, "upstash-message-id": messageId, "upstash-retried": String(retried) }, body);
  const maxRetries = Number(headers["upstash-retries"] ?? "3");
  const cb = prefixed(headers, "upstash-callback-");
  const callbackHeaders = {
    "content-type": "application/json",
    "user-agent": "Upstash-QStash",
    ...prefixed(Object.fromEntries(Object.entries(cb).map(([k, v]) => [k, v])), "forward-"),
    "upstash-workflow-runid": cb["workflow-runid"] ?? run.runId,
    "upstash-workflow-createdat": String(run.createdAt),
    "upstash-retried": "0",
    ...(mode.callbackWithVersion ? { "upstash-workflow-sdk-version": "1" } : {}),
  };
  // the trigger's user headers apply to the callback too, but not the SDK's own forwarded protocol header
  for (const [k, v] of Object.entries(run.forwards)) if (!k.startsWith("upstash-workflow-")) callbackHeaders[k] ??= v;
  const bodyText = answer.status ? (typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body)) : "";
  const callbackMessageId = newId("msg");
  const callbackBody = JSON.stringify({
    status: answer.status,
    header: Object.fromEntries(Object.entries(answer.headers ?? {}).map(([k, v]) => [k, [v]])),
    body: b64(bodyText),
    retried,
    maxRetries,
    sourceMessageId: messageId,
    topicName: "",
    endpointName: "",
    url: destination,
    method,
    sourceHeader: Object.fromEntries(Object.entries(fwd).map(([k, v]) => [k, [v]])),
    sourceBody: b64(body ?? ""),
    notBefore: 0,
    createdAt: Date.now(),
  });
  run.history.push({ messageId: callbackMessageId, body: b64(callbackBody), callType: "fromCallback" });
  callbackHeaders["upstash-message-id"] = callbackMessageId;
  await send("call-callback", headers["upstash-callback"], "POST", callbackHeaders, mode.callbackEmptyBody ? "" : callbackBody);
  const ok = answer.status >= 200 && answer.status < 300;
  if (!ok && retried < maxRetries) later(300, () => performCall(run, destination, headers, body, messageId, retried + 1));
}

async function deliverPlain(destination, headers, body, messageId) {
  const h = { ...forwardsOf(headers), "content-type": headers["content-type"] ?? "text/plain", "upstash-message-id": messageId, "upstash-retried": "0" };
  await send("plain-delivery", destination, headers["upstash-method"] ?? "POST", h, body);
}

function registerWait(eventId, headers, body) {
  headers = lower(headers);
  const w = tryJson(body) ?? {};
  const runId = headers["upstash-workflow-runid"];
  const key = `${runId}/${eventId}`;
  const waiter = {
    eventId,
    runId,
    url: w.url,
    step: w.step,
    headers,
    timeoutUrl: w.timeoutUrl,
    timeoutHeaders: w.timeoutHeaders,
    timeoutBody: w.timeoutBody,
    deadline: Date.now() + parseDuration(w.timeout),
  };
  if (lookback.has(key)) {
    const data = lookback.get(key);
    lookback.delete(key);
    later(0, () => fireWaiter(waiter, data));
    return;
  }
  waiters.push(waiter);
  const ms = Math.min(parseDuration(w.timeout), 30_000);
  pending++;
  waiter.timer = setTimeout(() => {
    pending--;
    const i = waiters.indexOf(waiter);
    if (i < 0) return;
    waiters.splice(i, 1);
    const step = { ...waiter.step, waitEventId: eventId, timeout: w.timeout, waitTimeout: true };
    log({ dir: "note", note: `wait for ${eventId} timed out: publishing the timeout step to ${waiter.timeoutUrl}`, step });
    acceptMessage(waiter.timeoutUrl, lower(waiter.timeoutHeaders), JSON.stringify(step), { via: "wait-timeout" });
  }, ms);
}

function fireWaiter(waiter, data) {
  if (waiter.timer) {
    clearTimeout(waiter.timer);
    pending--;
  }
  const step = { ...waiter.step, out: b64(data), waitEventId: waiter.eventId, waitTimeout: false };
  log({ dir: "note", note: `notify ${waiter.eventId}: publishing the wait step to ${waiter.url}`, step });
  return acceptMessage(waiter.url, waiter.headers, JSON.stringify(step), { via: "notify" });
}

function notify(eventId, runId, data) {
  const hit = waiters.filter((w) => w.eventId === eventId && (!runId || w.runId === runId));
  for (const w of hit) waiters.splice(waiters.indexOf(w), 1);
  const answers = hit.map((w) => {
    const a = fireWaiter(w, data);
    return {
      waiter: { url: w.url, deadline: Math.floor(w.deadline / 1000), headers: Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k, [v]])), timeoutUrl: w.timeoutUrl, timeoutBody: w.timeoutBody, timeoutHeaders: w.timeoutHeaders },
      messageId: a.messageId,
      deduplicated: false,
      error: "",
      workflowRunId: w.runId,
      workflowCreatedAt: runs.get(w.runId)?.createdAt,
    };
  });
  if (hit.length === 0 && runId) lookback.set(`${runId}/${eventId}`, data);
  return answers;
}

function endRun(runId, cancel, body) {
  const run = runs.get(runId);
  if (!run) return;
  if (run.ended) return;
  run.ended = cancel ? "canceled" : "success";
  run.result = body;
  for (const w of [...waiters]) if (w.runId === runId) waiters.splice(waiters.indexOf(w), 1);
  if (run.invoker) later(0, () => publishInvokeResult(run, { body, isFailed: false, isCanceled: cancel }));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

const fake = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const u = new URL(req.url, `http://127.0.0.1:${fakePort}`);
  const p = u.pathname;
  let status = 200;
  let answer;
  let answerHeaders = { "content-type": "application/json" };
  let m;
  if (req.method === "GET" && p === "/v2/keys") {
    answer = { current: DEV.current, next: DEV.next };
  } else if (req.method === "POST" && p === "/v2/batch") {
    const items = tryJson(body) ?? [];
    answer = items.map((it) => acceptMessage(it.destination, it.headers, it.body, { via: "batch" }));
    const refused = answer.find((a) => a.status);
    if (refused) {
      status = refused.status;
      answer = refused.error;
      answerHeaders = { "content-type": "text/plain" };
    }
  } else if (req.method === "POST" && (m = /^\/v2\/publish\/(.+)$/.exec(req.url))) {
    const a = acceptMessage(m[1], req.headers, body, { via: "publish" });
    if (a.status) {
      status = a.status;
      answer = a.error;
      answerHeaders = { "content-type": "text/plain" };
    } else answer = a;
  } else if (req.method === "DELETE" && (m = /^\/v2\/workflows\/runs\/([^/]+)$/.exec(p))) {
    endRun(decodeURIComponent(m[1]), u.searchParams.get("cancel") === "true", body);
    answer = "";
    answerHeaders = {};
  } else if (req.method === "DELETE" && p === "/v2/workflows/runs") {
    let cancelled = 0;
    for (const id of u.searchParams.getAll("workflowRunIds")) {
      const r = runs.get(id);
      if (r && !r.ended) {
        endRun(id, true, "");
        cancelled++;
      }
    }
    answer = { cancelled };
  } else if (req.method === "GET" && (m = /^\/v2\/workflows\/runs\/([^/]+)$/.exec(p))) {
    const run = runs.get(decodeURIComponent(m[1]));
    if (!run || run.ended) {
      status = 404;
      answer = { error: "workflow run not found" };
    } else answer = run.history.map(({ messageId, body, callType }) => ({ messageId, body, callType }));
  } else if (req.method === "POST" && (m = /^\/v2\/wait\/([^/]+)$/.exec(p))) {
    registerWait(decodeURIComponent(m[1]), req.headers, body);
    answer = {};
  } else if (req.method === "POST" && (m = /^\/v2\/notify\/(?:([^/]+)\/)?([^/]+)$/.exec(p))) {
    answer = notify(decodeURIComponent(m[2]), m[1] && decodeURIComponent(m[1]), body);
  } else if (req.method === "GET" && (m = /^\/v2\/waiters\/([^/]+)$/.exec(p))) {
    answer = waiters
      .filter((w) => w.eventId === decodeURIComponent(m[1]))
      .map((w) => ({ url: w.url, deadline: Math.floor(w.deadline / 1000), headers: Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k, [v]])), timeoutUrl: w.timeoutUrl, timeoutBody: w.timeoutBody, timeoutHeaders: w.timeoutHeaders }));
  } else if ((m = /^\/v2\/workflows\/hooks\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(p))) {
    const header = {};
    for (const [k, v] of Object.entries(req.headers)) header[k] = Array.isArray(v) ? v : [v];
    const data = JSON.stringify({ method: req.method, header, body: b64(body), proto: "http", host: req.headers.host, url: req.url });
    notify(decodeURIComponent(m[3]), decodeURIComponent(m[2]), data);
    answer = "";
    answerHeaders = {};
  } else if (req.method === "GET" && p === "/v2/workflows/events") {
    answer = { cursor: "", runs: [...runs.values()].map((r) => ({ workflowRunId: r.runId, workflowUrl: r.url, workflowState: r.ended ? `RUN_${String(r.ended).toUpperCase()}` : "RUN_STARTED", workflowRunCreatedAt: r.createdAt, steps: [] })) };
  } else if (req.method === "GET" && p === "/v2/dlq") {
    answer = { cursor: "", messages: [] };
  } else if (p.startsWith("/v2/workflows/dlq")) {
    answer = p.endsWith("/resume") || p.endsWith("/restart") ? { cursor: "", workflowRuns: [{ workflowRunId: "wfr_new", workflowCreatedAt: Date.now() }] } : p.includes("/callback/") ? { workflowRunId: "wfr_x", workflowCreatedAt: Date.now() } : { deleted: 0, cursor: "" };
  } else {
    status = 404;
    answer = `the recorder has no ${req.method} ${p}`;
    answerHeaders = { "content-type": "text/plain" };
  }
  const text = typeof answer === "string" ? answer : JSON.stringify(answer);
  log({
    dir: "sdk→fake",
    method: req.method,
    path: p,
    query: [...u.searchParams.entries()],
    headers: sortedHeaders(req.headers),
    body,
    ...(tryJson(body) !== undefined ? { bodyJson: tryJson(body) } : {}),
    answer: { status, headers: answerHeaders, body: tryJson(text) ?? text },
  });
  res.writeHead(status, answerHeaders);
  res.end(text);
});

// ------------------------------------------------------------------------------------------------ the app

const extraEventFiles = [];
async function startApp(extraEnv = {}) {
  const eventsFile = path.join(os.tmpdir(), `wf-events-${process.pid}-${Date.now()}.jsonl`);
  fs.writeFileSync(eventsFile, "");
  extraEventFiles.push(eventsFile);
  const env = {
    ...process.env,
    QSTASH_URL: `http://127.0.0.1:${fakePort}`,
    QSTASH_TOKEN: DEV.token,
    QSTASH_CURRENT_SIGNING_KEY: DEV.current,
    QSTASH_NEXT_SIGNING_KEY: DEV.next,
    WORKFLOW_EVENTS_FILE: eventsFile,
    ...extraEnv,
  };
  const child = spawn(process.execPath, [path.join(jsDir, "server.mjs"), "0"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const port = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`server.mjs exited ${code}: ${stderr}`)));
  });
  return { child, port, eventsFile, stderr: () => stderr };
}

const appUrl = (p) => `http://127.0.0.1:${appPort}${p}`;
const client = () => new Client({ baseUrl: `http://127.0.0.1:${fakePort}`, token: DEV.token });

async function clientCall(name, fn) {
  try {
    const r = await fn();
    log({ dir: "note", note: `${name} answered`, answer: r ?? null });
    return r;
  } catch (e) {
    log({ dir: "note", note: `${name} threw`, error: String(e), status: e.status ?? null });
  }
}

async function plainPost(p, body, headers = {}) {
  const res = await fetch(appUrl(p), { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  const rh = {};
  res.headers.forEach((v, k) => (rh[k] = v));
  log({ dir: "client→app", method: "POST", url: appUrl(p), headers: sortedHeaders({ "content-type": "application/json", ...headers }), body, answer: { status: res.status, headers: sortedHeaders(rh), body: tryJson(text) ?? text } });
}

async function settle(maxMs = 20_000) {
  const start = Date.now();
  let quietSince = Date.now();
  while (Date.now() - start < maxMs) {
    await sleep(100);
    if (pending > 0) quietSince = Date.now();
    else if (Date.now() - quietSince > 600) return true;
  }
  log({ dir: "note", note: `settle: still ${pending} timers/deliveries after ${maxMs} ms` });
  return false;
}

async function until(pred, maxMs = 15_000) {
  const start = Date.now();
  while (Date.now() - start < maxMs) {
    if (pred()) return true;
    await sleep(50);
  }
  return false;
}

// ------------------------------------------------------------------------------------------------ scenarios

const scenarios = {
  "trigger-client": {
    description:
      "client.trigger with every option (body, headers, workflowRunId, retries, retryDelay, flowControl, label, delay) for /wf/sequential, then the run: 3 steps and the DELETE ?cancel=false; then the same run id again (deduplicated)",
    async run() {
      const c = client();
      const params = {
        url: appUrl("/wf/sequential"),
        body: { input: "hello" },
        headers: { "x-test-header": "from-trigger" },
        workflowRunId: "recorded-trigger",
        retries: 2,
        retryDelay: "1000",
        flowControl: { key: "fc-key", parallelism: 2, rate: 10, period: "1m" },
        label: "my-label",
        delay: "1s",
      };
      await clientCall("client.trigger", () => c.trigger(params));
      await settle();
      await clientCall("client.trigger (same run id)", () => c.trigger(params));
      await settle();
    },
  },
  "trigger-plain": {
    description:
      "a plain QStash message (publishJSON from @upstash/qstash, signed, no workflow headers) to /wf/sequential: the SDK sees no Upstash-Workflow-Sdk-Version, so it triggers the run itself (POST /v2/batch, Init true, every request header forwarded) and answers; then the run",
    async run() {
      const q = new QStashClient({ baseUrl: `http://127.0.0.1:${fakePort}`, token: DEV.token });
      await clientCall("qstash publishJSON", () => q.publishJSON({ url: appUrl("/wf/sequential"), body: { input: "plain" }, headers: { "x-test-header": "from-plain-call" } }));
      await settle();
    },
  },
  "trigger-plain-unsigned": {
    description:
      "an unsigned plain POST to /wf/sequential: with signing keys set the SDK answers 500 (no Upstash-Signature); an app started without signing keys triggers the run itself",
    async run() {
      await plainPost("/wf/sequential", JSON.stringify({ input: "plain" }), { "x-test-header": "from-plain-call" });
      const open = await startApp({ QSTASH_CURRENT_SIGNING_KEY: "", QSTASH_NEXT_SIGNING_KEY: "" });
      try {
        const url = `http://127.0.0.1:${open.port}/wf/sequential`;
        const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-test-header": "unsigned" }, body: JSON.stringify({ input: "unsigned" }) });
        log({ dir: "client→app", method: "POST", url, note: "app without signing keys", answer: { status: res.status, body: tryJson(await res.text()) } });
        await settle();
      } finally {
        open.child.kill("SIGTERM");
      }
    },
  },
  "trigger-batch": {
    description: "client.trigger with an array of two runs (one POST /v2/batch with two items), minimal options (disableTelemetry on the second)",
    async run() {
      await clientCall("client.trigger([..])", () =>
        client().trigger([
          { url: appUrl("/wf/sequential"), body: "a string body" },
          { url: appUrl("/wf/sequential"), body: { input: "two" }, disableTelemetry: true },
        ]),
      );
      await settle();
    },
  },
  parallel: {
    description: "Promise.all of 3 context.run steps: one batch of 3 plan steps (stepId 0, targetStep 1..3), each delivered with the history cut at its own message; 3 result publishes; the delivery of the last one continues",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/parallel"), body: {}, workflowRunId: "recorded-parallel" }));
      await settle();
    },
  },
  "parallel-lazy": {
    description: "the parallel workflow with LazyFetch: every step delivery has an empty body; the SDK fetches GET /v2/workflows/runs/{id} (the whole history) and cuts it at its Upstash-Message-Id",
    setup() {
      mode.lazy = true;
    },
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/parallel"), body: {}, workflowRunId: "recorded-parallel-lazy" }));
      await settle();
    },
  },
  "parallel-uncut": {
    description:
      "NEGATIVE: the parallel workflow when the server delivers the whole history known at delivery time instead of cutting it at the delivered message: shows why the cut is needed",
    setup() {
      mode.uncut = true;
    },
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/parallel"), body: {}, workflowRunId: "recorded-parallel-uncut" }));
      await settle();
    },
  },
  sleep: {
    description: "context.sleep('nap', '2s') publishes with Upstash-Delay: 2s; context.sleepUntil publishes with Upstash-Not-Before (Unix seconds)",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/sleep"), body: { sleep: "2s", untilSeconds: 2 }, workflowRunId: "recorded-sleep" }));
      await settle();
    },
  },
  call: {
    description:
      "context.call three times: a 200 JSON answer, a 404 answer, and a 500 answer with retries: 1 (two attempts, a callback after each; the SDK ignores the non-final one). Each result is published back by the SDK with POST /v2/publish/{workflowUrl}",
    async run() {
      const tp = appUrl("/third-party");
      await clientCall("client.trigger", () =>
        client().trigger({
          url: appUrl("/wf/call"),
          workflowRunId: "recorded-call",
          body: {
            calls: [
              { url: `${tp}?status=200`, method: "POST", body: { hello: "world" }, headers: { "content-type": "application/json", "x-call-header": "yes" } },
              { url: `${tp}?status=404&text=1`, method: "GET" },
              { url: `${tp}?status=500`, method: "PUT", body: "raw body", headers: { "content-type": "text/plain" }, retries: 1, retryDelay: "100", timeout: "5s" },
            ],
          },
        }),
      );
      await settle();
    },
  },
  "call-callback-with-version": {
    description: "NEGATIVE: a call callback delivered WITH Upstash-Workflow-Sdk-Version: 1 (the SDK then parses the body as a history and fails with 500)",
    setup() {
      mode.callbackWithVersion = true;
    },
    async run() {
      await clientCall("client.trigger", () =>
        client().trigger({ url: appUrl("/wf/call"), workflowRunId: "recorded-call-version", retries: 0, body: { calls: [{ url: `${appUrl("/third-party")}?status=200`, method: "GET" }] } }),
      );
      await settle();
    },
  },
  "call-callback-empty-body": {
    description: "NEGATIVE: a call callback delivered with an empty body (as LazyFetch would): the SDK fails with 500 (it JSON-parses the empty payload)",
    setup() {
      mode.callbackEmptyBody = true;
    },
    async run() {
      await clientCall("client.trigger", () =>
        client().trigger({ url: appUrl("/wf/call"), workflowRunId: "recorded-call-empty", retries: 0, body: { calls: [{ url: `${appUrl("/third-party")}?status=200`, method: "GET" }] } }),
      );
      await settle();
    },
  },
  "wait-timeout": {
    description: "context.waitForEvent with timeout '2s': POST /v2/wait/{eventId}; nobody notifies; the server publishes the step with waitTimeout: true to timeoutUrl with timeoutHeaders",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/wait"), workflowRunId: "recorded-wait-timeout", body: { eventId: "evt-timeout", timeout: "2s" } }));
      await settle();
    },
  },
  "wait-notify": {
    description: "context.waitForEvent (timeout 30s); client.getWaiters; client.notify (POST /v2/notify/{eventId}) delivers the event data as the step's out (base64)",
    async run() {
      const c = client();
      await clientCall("client.trigger", () => c.trigger({ url: appUrl("/wf/wait"), workflowRunId: "recorded-wait-notify", body: { eventId: "evt-notify", timeout: "30s" } }));
      await until(() => waiters.some((w) => w.eventId === "evt-notify"));
      await clientCall("client.getWaiters", () => c.getWaiters({ eventId: "evt-notify" }));
      await clientCall("client.notify", () => c.notify({ eventId: "evt-notify", eventData: { ok: true, n: 7 } }));
      await settle();
    },
  },
  "notify-lookback": {
    description: "client.notify with workflowRunId before the run waits (POST /v2/notify/{runId}/{eventId}): the server keeps the event; the later wait is answered at once",
    async run() {
      const c = client();
      await clientCall("client.notify (lookback)", () => c.notify({ eventId: "evt-early", eventData: "early bird", workflowRunId: "wfr_recorded-lookback" }));
      await clientCall("client.trigger", () => c.trigger({ url: appUrl("/wf/wait"), workflowRunId: "recorded-lookback", body: { eventId: "evt-early", timeout: "30s" } }));
      await settle();
    },
  },
  "notify-step": {
    description: "context.notify inside a workflow (a Notify step: the SDK calls POST /v2/notify/{eventId} inside the step and publishes the step with out = {eventId, eventData, notifyResponse})",
    async run() {
      const c = client();
      await clientCall("client.trigger (waiter)", () => c.trigger({ url: appUrl("/wf/wait"), workflowRunId: "recorded-notify-waiter", body: { eventId: "evt-step", timeout: "30s" } }));
      await until(() => waiters.some((w) => w.eventId === "evt-step"));
      await clientCall("client.trigger (notifier)", () => c.trigger({ url: appUrl("/wf/notifier"), workflowRunId: "recorded-notifier", body: { eventId: "evt-step", eventData: { from: "notifier" } } }));
      await settle();
    },
  },
  invoke: {
    description:
      "context.invoke of a succeeding child (/many/child-ok) and a failing one (/many/child-fail, retries 0): POST /v2/publish/{child url} with Upstash-Workflow-Invoke: true and the invoker description as body; the server starts the child and, when it ends, publishes the invoke step to the parent with out = {body, isFailed, isCanceled}",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/many/invoke-parent"), workflowRunId: "recorded-invoke", body: { n: 21 } }));
      await settle(30_000);
    },
  },
  "failure-function": {
    description: "a step throws; the trigger had retries: 0 and (client.trigger's default) failureUrl = the workflow URL; after the failed delivery the server sends the failure callback and the failureFunction runs",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/fail"), workflowRunId: "recorded-failure", body: { some: "payload" }, retries: 0, headers: { "x-user": "u1" }, label: "fail-label" }));
      await settle();
    },
  },
  "failure-function-plain-start": {
    description: "the failing workflow started by a plain POST (the SDK's own trigger carries no Upstash-Failure-Callback: the failure function cannot run)",
    async run() {
      const q = new QStashClient({ baseUrl: `http://127.0.0.1:${fakePort}`, token: DEV.token });
      await clientCall("qstash publishJSON", () => q.publishJSON({ url: appUrl("/wf/fail"), body: { some: "payload" } }));
      await settle(20_000);
    },
  },
  "failure-url": {
    description: "a step throws; client.trigger with failureUrl = /sink/failure (a plain endpoint) and retries 0",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/fail-url"), workflowRunId: "recorded-failure-url", body: { some: "payload" }, retries: 0, failureUrl: appUrl("/sink/failure") }));
      await settle();
    },
  },
  "non-retryable": {
    description: "WorkflowNonRetryableError in a step: the SDK answers 489 with Upstash-NonRetryable-Error: true; the server fails the run at once (retries 3 not used) and sends the failure callback",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/non-retryable"), workflowRunId: "recorded-non-retryable", body: {} }));
      await settle();
    },
  },
  "retry-after": {
    description: "WorkflowRetryAfterError in a step: the SDK answers 429 with Retry-After: 1; the retried delivery (Upstash-Retried: 1) succeeds",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/retry-after"), workflowRunId: "recorded-retry-after", body: {} }));
      await settle();
    },
  },
  cancel: {
    description: "context.cancel(): the SDK sends DELETE /v2/workflows/runs/{id}?cancel=true (no body) and answers 200",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/cancel"), workflowRunId: "recorded-cancel", body: {} }));
      await settle();
    },
  },
  webhook: {
    description:
      "context.createWebhook (a CreateWebhook step whose out carries webhookUrl = QSTASH_URL/v2/workflows/hooks/{UserID}/{runId}/{eventId}) then waitForWebhook (POST /v2/wait/{eventId}); the recorder calls the webhook URL with POST + a body",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/webhook"), workflowRunId: "recorded-webhook", body: { timeout: "30s" } }));
      await until(() => waiters.some((w) => w.runId === "wfr_recorded-webhook"));
      const created = transcript.find((e) => e.dir === "sdk→fake" && e.bodyJson?.[0]?.body && tryJson(e.bodyJson[0].body)?.stepType === "CreateWebhook");
      const { webhookUrl } = JSON.parse(tryJson(created.bodyJson[0].body).out);
      const hook = `${webhookUrl}?q=1`;
      const res = await fetch(hook, { method: "POST", headers: { "content-type": "application/json", "x-hook": "hi" }, body: JSON.stringify({ hooked: true }) });
      log({ dir: "note", note: `called the webhook ${hook}: ${res.status}` });
      await settle();
    },
  },
  "unknown-sdk": {
    description:
      "a run started without the SDK (as POST /v2/trigger would): first delivery with Upstash-Workflow-Unknown-Sdk: true, a run id and the history body, no Upstash-Workflow-Sdk-Version; the SDK re-triggers the same run id with upstash-workflow-trigger-by-sdk: true",
    async run() {
      const runId = "wfr_recorded-unknown-sdk";
      const run = {
        runId,
        url: appUrl("/wf/sequential"),
        createdAt: Date.now(),
        history: [{ messageId: newId("msg"), body: b64(JSON.stringify({ input: "rest" })), callType: "step" }],
        retries: 3,
        failureOptions: {},
        forwards: { "x-rest-header": "rest" },
        ended: false,
        firstDelivered: true,
      };
      runs.set(runId, run);
      const entry = run.history[0];
      const body = JSON.stringify(historyFor(run, entry));
      const headers = { ...deliveryHeaders(run, entry, { "upstash-retried": "0" }), "upstash-workflow-unknown-sdk": "true" };
      await send("unknown-sdk-delivery", run.url, "POST", headers, body);
      await settle();
    },
  },
  "step-publish-400": {
    description: "the step publish is answered 400 (as for an ended run): the SDK stops quietly and answers the delivery 200",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/sequential"), workflowRunId: "recorded-400", body: {} }));
      await until(() => transcript.some((e) => e.kind === "first-delivery"));
      mode.rejectStepsWith = 400;
      await settle();
    },
    setup() {},
  },
  "step-publish-412": {
    description: "the first step publish is answered 412 (quota): the SDK answers the delivery 489 + Upstash-NonRetryable-Error: true",
    async run() {
      mode.rejectStepsWith = 412;
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/wf/sequential"), workflowRunId: "recorded-412", body: {}, retries: 0 }));
      await settle();
    },
  },
  "bad-signature": {
    description: "a delivery with a wrong Upstash-Signature, and one without any: the SDK (signing keys set) answers 500 with the verification error",
    async run() {
      const runId = "wfr_recorded-badsig";
      const body = JSON.stringify([{ messageId: "msg_x", body: b64("{}"), callType: "step" }]);
      const base = { "content-type": "application/json", "upstash-workflow-runid": runId, "upstash-workflow-sdk-version": "1", "upstash-message-id": "msg_x", "upstash-retried": "0" };
      await send("bad-signature", appUrl("/wf/sequential"), "POST", { ...base, "upstash-signature": sign(appUrl("/wf/sequential"), body, "sig_wrong") }, body);
      const res = await fetch(appUrl("/wf/sequential"), { method: "POST", headers: base, body });
      log({ dir: "fake→app", kind: "no-signature", method: "POST", url: appUrl("/wf/sequential"), headers: base, body, answer: { status: res.status, body: tryJson(await res.text()) } });
      await settle();
    },
  },
  "non-workflow-destination": {
    description: "client.trigger to a plain endpoint (/third-party): its answer lacks Upstash-Workflow-Sdk-Version (WF_DetectTrigger); a workflow endpoint's answer always has it",
    async run() {
      await clientCall("client.trigger", () => client().trigger({ url: appUrl("/third-party"), workflowRunId: "recorded-non-workflow", body: {} }));
      await settle();
    },
  },
  "client-apis": {
    description: "the SDK Client's other requests: cancel by ids / by URL prefix / by exact URL / all, logs (GET /v2/workflows/events?groupBy=workflowRunId), getWaiters, dlq list/resume/restart/retryFailureFunction/delete",
    async run() {
      const c = client();
      await clientCall("client.cancel(ids)", () => c.cancel({ ids: ["wfr_a", "wfr_b"] }));
      await clientCall("client.cancel(one id)", () => c.cancel("wfr_c"));
      await clientCall("client.cancel(urlStartingWith)", () => c.cancel({ urlStartingWith: "http://127.0.0.1/wf" }));
      await clientCall("client.cancel(filter workflowUrl exact, label, dates)", () => c.cancel({ filter: { workflowUrl: "http://127.0.0.1/wf/x", label: "l1", fromDate: 1700000000000, toDate: 1800000000000 }, count: 5 }));
      await clientCall("client.cancel(all)", () => c.cancel({ all: true }));
      await clientCall("client.logs()", () => c.logs());
      await clientCall("client.logs(filters)", () => c.logs({ workflowRunId: "wfr_a", count: 2, cursor: "c1", state: "RUN_SUCCESS", workflowUrl: "http://127.0.0.1/wf/x", workflowCreatedAt: 1700000000000, filter: { label: "l1" } }));
      await clientCall("client.getWaiters", () => c.getWaiters({ eventId: "evt-none" }));
      await clientCall("client.dlq.list", () => c.dlq.list({ count: 3, filter: { workflowRunId: "wfr_a", label: "l1" } }));
      await clientCall("client.dlq.resume({dlqId, retries, flowControl})", () => c.dlq.resume({ dlqId: "dlq_1", retries: 2, flowControl: { key: "k", parallelism: 1 } }));
      await clientCall("client.dlq.resume([ids])", () => c.dlq.resume(["dlq_1", "dlq_2"], { retries: 1 }));
      await clientCall("client.dlq.restart({dlqId})", () => c.dlq.restart({ dlqId: "dlq_1" }));
      await clientCall("client.dlq.restart(filter)", () => c.dlq.restart({ filter: { workflowUrl: "http://127.0.0.1/wf/x" } }));
      await clientCall("client.dlq.retryFailureFunction", () => c.dlq.retryFailureFunction({ dlqId: "dlq_1" }));
      await clientCall("client.dlq.delete(id)", () => c.dlq.delete("dlq_1"));
      await clientCall("client.dlq.delete(all)", () => c.dlq.delete({ all: true }));
    },
  },
  "dev-mode": {
    description:
      "QSTASH_DEV=true with QSTASH_DEV_PORT = the recorder: the app (and a dev-mode Client) look for the dev server with GET /v2/keys (Bearer dev token), then use http://127.0.0.1:$QSTASH_DEV_PORT and the dev token, ignoring QSTASH_URL/QSTASH_TOKEN; the receiver uses the dev keys",
    async run() {
      const dev = await startApp({ QSTASH_DEV: "true", QSTASH_DEV_PORT: String(fakePort), QSTASH_URL: "http://127.0.0.1:9/ignored", QSTASH_TOKEN: "ignored", QSTASH_CURRENT_SIGNING_KEY: "", QSTASH_NEXT_SIGNING_KEY: "" });
      try {
        // dev mode always verifies signatures (with the dev keys): an unsigned plain call is refused
        const res = await fetch(`http://127.0.0.1:${dev.port}/wf/sequential`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input: "dev" }) });
        log({ dir: "client→app", method: "POST", url: `http://127.0.0.1:${dev.port}/wf/sequential`, answer: { status: res.status, body: tryJson(await res.text()) } });
        // a dev-mode SDK Client finds the server through QSTASH_DEV_PORT and uses the dev token
        process.env.QSTASH_DEV_PORT = String(fakePort);
        const devClient = new Client({ devMode: true });
        await clientCall("dev-mode client.trigger", () => devClient.trigger({ url: `http://127.0.0.1:${dev.port}/wf/sequential`, body: { input: "dev" }, workflowRunId: "recorded-dev" }));
        await settle();
      } finally {
        delete process.env.QSTASH_DEV_PORT;
        dev.child.kill("SIGTERM");
      }
    },
  },
};

// ------------------------------------------------------------------------------------------------ main

const args = process.argv.slice(2);
if (args.includes("--list")) {
  for (const [name, s] of Object.entries(scenarios)) console.log(`${name}\t${s.description}`);
  process.exit(0);
}
let outDir = path.join(repoRoot, "docs/workflow/transcripts");
const oi = args.indexOf("--out");
if (oi >= 0) {
  outDir = path.resolve(args[oi + 1]);
  args.splice(oi, 2);
}
const chosen = args.length ? args : Object.keys(scenarios);
for (const name of chosen) if (!scenarios[name]) throw new Error(`unknown scenario ${name}`);
fs.mkdirSync(outDir, { recursive: true });

await new Promise((r) => fake.listen(0, "127.0.0.1", r));
fakePort = fake.address().port;
const app = await startApp();
appPort = app.port;
const versions = {
  "@upstash/workflow": JSON.parse(fs.readFileSync(path.join(jsDir, "node_modules/@upstash/workflow/package.json"))).version,
  "@upstash/qstash": JSON.parse(fs.readFileSync(path.join(jsDir, "node_modules/@upstash/qstash/package.json"))).version,
  node: process.version,
};

for (const name of chosen) {
  const s = scenarios[name];
  Object.assign(mode, { lazy: false, uncut: false, callbackWithVersion: false, callbackEmptyBody: false, rejectStepsWith: 0, detectNonWorkflow: true });
  transcript = [];
  seq = 0;
  t0.value = Date.now();
  const eventsStart = fs.statSync(app.eventsFile).size;
  s.setup?.();
  await s.run();
  await settle();
  const lines = fs.readFileSync(app.eventsFile, "utf8").slice(eventsStart).split("\n");
  for (const f of extraEventFiles.splice(1)) lines.push(...fs.readFileSync(f, "utf8").split("\n"));
  const events = lines.filter(Boolean).map((l) => JSON.parse(l));
  const fakeUrl = `http://127.0.0.1:${fakePort}`;
  const doc = {
    scenario: name,
    description: s.description,
    versions,
    recordedAt: new Date().toISOString(),
    ports: { fake: fakeUrl, app: `http://127.0.0.1:${appPort}` },
    mode: { ...mode },
    exchanges: transcript,
    events,
  };
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(doc, null, 2) + "\n");
  console.log(`${name}: ${transcript.length} exchanges, ${events.length} events`);
}

app.child.kill("SIGTERM");
fake.close();
process.exit(0);
