// A workflow app built with the official, unmodified Upstash Workflow SDK (@upstash/workflow 1.3.3, pinned in
// package.json), for postdate's Rust integration tests and for tools/record.mjs.
//
//   node server.mjs [port]            (or PORT=…; 0 or nothing picks a free port)
//
// Listens on 127.0.0.1 only and prints `listening <port>` on stdout once ready. Everything else it says goes to
// stderr. The SDK reads its settings from the environment, exactly as an app would:
//   QSTASH_URL, QSTASH_TOKEN                           where steps are published (the server under test)
//   QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY  when both are set, every delivery's signature is checked
//   QSTASH_DEV=true (+ QSTASH_DEV_PORT)                dev mode: the SDK ignores the four above and uses the public
//                                                      dev token/keys against http://127.0.0.1:${QSTASH_DEV_PORT:-8080}
//   UPSTASH_WORKFLOW_URL                               optional base URL the SDK puts in front of the route path
//   WORKFLOW_EVENTS_FILE                               JSON-lines file the workflows append what they observe to
//                                                      (stderr when unset)
//
// Routes (POST unless noted; a workflow route starts a run when called without workflow headers, e.g. by a plain
// POST or by the SDK Client's trigger, see trigger.mjs):
//   /wf/sequential     3 context.run steps, returns {result}
//   /wf/parallel       Promise.all of 3 context.run steps, then a "sum" step
//   /wf/sleep          context.sleep(payload.sleep ?? "2s") then context.sleepUntil(now + payload.untilSeconds ?? 2)
//   /wf/call           context.call for each of payload.calls [{url, method, body, headers, retries, timeout}]
//   /wf/wait           context.waitForEvent("wait", payload.eventId, {timeout: payload.timeout ?? "30s"})
//   /wf/notifier       context.notify("notify", payload.eventId, payload.eventData[, payload.workflowRunId])
//   /wf/fail           a step that throws; failureFunction records the failure callback
//   /wf/fail-url       a step that throws; no failureFunction (trigger it with failureUrl = /sink/failure)
//   /wf/non-retryable  throws WorkflowNonRetryableError in a step (answer 489)
//   /wf/retry-after    throws WorkflowRetryAfterError once (answer 429 + Retry-After), then succeeds on a retry
//   /wf/cancel         a step, then context.cancel(); the step after it never runs
//   /wf/flaky          a step ("before"), then one ("fragile") that throws until POST /control/heal
//   /wf/webhook        context.createWebhook + context.waitForWebhook(timeout payload.timeout ?? "30s")
//   /many/invoke-parent  invokes /many/child-ok and /many/child-fail (serveMany), records both results
//   /many/child-ok     returns {doubled: payload.n * 2}
//   /many/child-fail   throws in a step (its failureFunction records it)
//   /many/invoke-sleeper  invokes /many/child-sleep and records its result
//   /many/child-sleep  runs a step, sleeps an hour, then runs another
//   /sink/failure      (any method) plain endpoint: records method, headers and body (a failureUrl target)
//   /third-party       (any method) plain endpoint for context.call: answers ?status=… (default 200) with a JSON echo
//                      of method, query, headers and body; ?delayMs=… waits first; ?text=1 answers text/plain
//   /health            (GET) 200 "ok"
//
// Every event line is {ts, workflow, runId, kind, ...}. Kinds: "step" (a step function ran: name, out), "result"
// (the route returned: result), "failure-function" (failStatus, failResponse, failHeaders, payload), "sink",
// "third-party", "webhook-created", "webhook-received", "wait-result", "notify-result", "invoke-result",
// "call-result", "before-cancel", "error" (the SDK answered 5xx: status, body).
import http from "node:http";
import fs from "node:fs";
import { serve, WorkflowNonRetryableError, WorkflowRetryAfterError } from "@upstash/workflow";
import { createWorkflow, serveMany } from "@upstash/workflow/nextjs";

const eventsFile = process.env.WORKFLOW_EVENTS_FILE;

function record(workflow, runId, kind, data = {}) {
  const line = JSON.stringify({ ts: Date.now(), workflow, runId, kind, ...data }) + "\n";
  if (eventsFile) fs.appendFileSync(eventsFile, line);
  else process.stderr.write(line);
}

// The SDK runs the route once more in a dry run (DisabledWorkflowContext, `context.disabled === true`) on every delivery
// to check that it reaches a step; only a route that reaches none gets past it, so "result" lines are skipped there.
const done = (context, workflow, data) => {
  if (!context.disabled) record(workflow, context.workflowRunId, "result", data);
};

const payloadOf = (context) => (context.requestPayload && typeof context.requestPayload === "object" ? context.requestPayload : {});

// ---------------------------------------------------------------------------------------------- the workflows

const sequential = serve(async (context) => {
  const p = payloadOf(context);
  const a = await context.run("step-1", () => {
    const out = `one:${p.input ?? ""}`;
    record("sequential", context.workflowRunId, "step", { name: "step-1", out });
    return out;
  });
  const b = await context.run("step-2", () => {
    const out = `${a}|two`;
    record("sequential", context.workflowRunId, "step", { name: "step-2", out });
    return out;
  });
  const c = await context.run("step-3", () => {
    const out = { joined: `${b}|three`, label: context.label ?? null };
    record("sequential", context.workflowRunId, "step", { name: "step-3", out });
    return out;
  });
  const result = { result: c.joined };
  done(context, "sequential", { result, headerSeen: context.headers.get("x-test-header") });
  return result;
});

const parallel = serve(async (context) => {
  const names = ["p-1", "p-2", "p-3"];
  const outs = await Promise.all(
    names.map((name, i) =>
      context.run(name, () => {
        const out = (i + 1) * 10;
        record("parallel", context.workflowRunId, "step", { name, out });
        return out;
      }),
    ),
  );
  const sum = await context.run("sum", () => {
    const out = outs.reduce((x, y) => x + y, 0);
    record("parallel", context.workflowRunId, "step", { name: "sum", out, inputs: outs });
    return out;
  });
  done(context, "parallel", { result: sum });
  return sum;
});

const sleeper = serve(async (context) => {
  const p = payloadOf(context);
  const started = await context.run("start", () => {
    const out = Date.now();
    record("sleep", context.workflowRunId, "step", { name: "start", out });
    return out;
  });
  await context.sleep("nap", p.sleep ?? "2s");
  const until = await context.run("pick-until", () => {
    const out = Math.floor(Date.now() / 1000) + (p.untilSeconds ?? 2);
    record("sleep", context.workflowRunId, "step", { name: "pick-until", out });
    return out;
  });
  await context.sleepUntil("until", until);
  const finished = await context.run("end", () => {
    const out = Date.now();
    record("sleep", context.workflowRunId, "step", { name: "end", out });
    return out;
  });
  const result = { sleptMs: finished - started, until };
  done(context, "sleep", { result });
  return result;
});

const caller = serve(async (context) => {
  // Read the calls in a step: on a call's callback delivery the SDK's dry run sees the callback body as
  // requestPayload, and a route that reaches no step there is refused (400 auth-fail).
  const calls = await context.run("read-calls", () => {
    const p = payloadOf(context);
    return Array.isArray(p.calls) ? p.calls : [];
  });
  const statuses = [];
  for (const [i, c] of calls.entries()) {
    const r = await context.call(`call-${i}`, {
      url: c.url,
      method: c.method ?? "POST",
      body: c.body === undefined ? undefined : typeof c.body === "string" ? c.body : JSON.stringify(c.body),
      headers: c.headers ?? { "content-type": "application/json" },
      retries: c.retries ?? 0,
      ...(c.retryDelay ? { retryDelay: c.retryDelay } : {}),
      ...(c.timeout ? { timeout: c.timeout } : {}),
    });
    // Outside a step: runs on every later replay too, so record it once, in a step.
    await context.run(`after-call-${i}`, () => {
      record("call", context.workflowRunId, "call-result", { index: i, status: r.status, body: r.body, header: r.header });
      return r.status;
    });
    statuses.push(r.status);
  }
  done(context, "call", { result: statuses });
  return statuses;
});

const waiter = serve(async (context) => {
  const p = payloadOf(context);
  const r = await context.waitForEvent("wait", p.eventId ?? "evt-test", { timeout: p.timeout ?? "30s" });
  await context.run("after-wait", () => {
    record("wait", context.workflowRunId, "wait-result", { eventData: r.eventData ?? null, timeout: r.timeout });
    return r.timeout;
  });
  done(context, "wait", { result: r });
  return r;
});

const notifier = serve(async (context) => {
  const p = payloadOf(context);
  const r = await context.notify("notify", p.eventId ?? "evt-test", p.eventData ?? null, p.workflowRunId);
  await context.run("after-notify", () => {
    record("notifier", context.workflowRunId, "notify-result", { result: r });
    return r.notifyResponse?.length ?? 0;
  });
  done(context, "notifier", { result: r });
  return r;
});

const failureFunction = (workflow) => async ({ context, failStatus, failResponse, failHeaders }) => {
  record(workflow, context.workflowRunId, "failure-function", {
    failStatus,
    failResponse,
    failHeaders,
    payload: context.requestPayload ?? null,
    url: context.url,
    label: context.label ?? null,
  });
  return `handled ${workflow}`;
};

const failing = (workflow, withFailureFunction) =>
  serve(
    async (context) => {
      await context.run("ok-step", () => {
        record(workflow, context.workflowRunId, "step", { name: "ok-step", out: "fine" });
        return "fine";
      });
      await context.run("boom", () => {
        record(workflow, context.workflowRunId, "step", { name: "boom", retried: context.retried });
        throw new Error(`boom in ${workflow}`);
      });
      record(workflow, context.workflowRunId, "result", { result: "unreachable" });
    },
    withFailureFunction ? { failureFunction: failureFunction(workflow) } : {},
  );

const nonRetryable = serve(async (context) => {
  await context.run("give-up", () => {
    record("non-retryable", context.workflowRunId, "step", { name: "give-up" });
    throw new WorkflowNonRetryableError("not worth retrying");
  });
}, { failureFunction: failureFunction("non-retryable") });

const retryAfter = serve(async (context) => {
  const out = await context.run("flaky", () => {
    record("retry-after", context.workflowRunId, "step", { name: "flaky", retried: context.retried });
    if (context.retried === 0) throw new WorkflowRetryAfterError("come back later", 1);
    return "second time lucky";
  });
  done(context, "retry-after", { result: out });
  return out;
});

const canceller = serve(async (context) => {
  await context.run("before-cancel", () => {
    record("cancel", context.workflowRunId, "before-cancel", {});
    return "about to cancel";
  });
  await context.cancel();
  await context.run("after-cancel", () => {
    record("cancel", context.workflowRunId, "step", { name: "after-cancel", out: "must not run" });
  });
});

const webhooker = serve(async (context) => {
  const p = payloadOf(context);
  const webhook = await context.createWebhook("create-webhook");
  await context.run("announce", () => {
    record("webhook", context.workflowRunId, "webhook-created", { webhookUrl: webhook.webhookUrl, eventId: webhook.eventId });
    return webhook.webhookUrl;
  });
  const r = await context.waitForWebhook("wait-webhook", webhook, p.timeout ?? "30s");
  const seen = await context.run("after-webhook", async () => {
    const out = r.timeout
      ? { timeout: true }
      : {
          timeout: false,
          method: r.request.method,
          url: r.request.url,
          headers: Object.fromEntries(r.request.headers.entries()),
          body: r.request.method === "GET" || r.request.method === "HEAD" ? null : await r.request.text(),
        };
    record("webhook", context.workflowRunId, "webhook-received", out);
    return out;
  });
  done(context, "webhook", { result: seen });
  return seen;
});

// serveMany: context.invoke needs the child's workflowId, which serveMany sets from its key; the child's URL is the
// invoker's URL with the last path segment replaced by that key.
const childOk = createWorkflow(async (context) => {
  const p = payloadOf(context);
  const doubled = await context.run("double", () => {
    const out = (p.n ?? 0) * 2;
    record("child-ok", context.workflowRunId, "step", { name: "double", out });
    return out;
  });
  const result = { doubled };
  done(context, "child-ok", { result });
  return result;
});

const childFail = createWorkflow(
  async (context) => {
    await context.run("child-boom", () => {
      record("child-fail", context.workflowRunId, "step", { name: "child-boom" });
      throw new Error("child failed on purpose");
    });
  },
  { failureFunction: failureFunction("child-fail") },
);

const invokeParent = createWorkflow(async (context) => {
  const p = payloadOf(context);
  const ok = await context.invoke("invoke-ok", { workflow: childOk, body: { n: p.n ?? 21 }, retries: 0 });
  await context.run("after-invoke-ok", () => {
    record("invoke-parent", context.workflowRunId, "invoke-result", { name: "invoke-ok", result: ok });
    return ok.body;
  });
  let failed = null;
  if (!p.skipFailing) {
    failed = await context.invoke("invoke-fail", { workflow: childFail, body: { why: "test" }, retries: 0 });
    await context.run("after-invoke-fail", () => {
      record("invoke-parent", context.workflowRunId, "invoke-result", { name: "invoke-fail", result: failed });
      return failed.isFailed ?? null;
    });
  }
  const result = { ok, failed };
  done(context, "invoke-parent", { result });
  return result;
});

const childSleep = createWorkflow(async (context) => {
  await context.run("child-started", () => {
    record("child-sleep", context.workflowRunId, "step", { name: "child-started" });
    return "started";
  });
  await context.sleep("child-nap", "1h");
  await context.run("child-woke", () => {
    record("child-sleep", context.workflowRunId, "step", { name: "child-woke" });
    return "woke";
  });
});

const invokeSleeper = createWorkflow(async (context) => {
  const r = await context.invoke("invoke-sleeper", { workflow: childSleep, body: {}, retries: 0 });
  await context.run("after-invoke-sleeper", () => {
    record("invoke-sleeper", context.workflowRunId, "invoke-result", { name: "invoke-sleeper", result: r });
    return r.isCanceled ?? null;
  });
  done(context, "invoke-sleeper", { result: r });
  return r;
});

const many = serveMany({
  "invoke-parent": invokeParent,
  "child-ok": childOk,
  "child-fail": childFail,
  "invoke-sleeper": invokeSleeper,
  "child-sleep": childSleep,
}).POST;

// A step that fails until POST /control/heal: a run that reaches the DLQ, resumed or restarted once healed.
let healed = false;
const flaky = serve(async (context) => {
  const a = await context.run("before", () => {
    record("flaky", context.workflowRunId, "step", { name: "before", out: "done" });
    return "done";
  });
  const b = await context.run("fragile", () => {
    if (!healed) throw new Error("not healed yet");
    record("flaky", context.workflowRunId, "step", { name: "fragile", out: `${a}+fixed` });
    return `${a}+fixed`;
  });
  done(context, "flaky", { result: b });
  return b;
});

const workflows = {
  "/wf/sequential": sequential.handler,
  "/wf/parallel": parallel.handler,
  "/wf/sleep": sleeper.handler,
  "/wf/call": caller.handler,
  "/wf/wait": waiter.handler,
  "/wf/notifier": notifier.handler,
  "/wf/fail": failing("fail", true).handler,
  "/wf/fail-url": failing("fail-url", false).handler,
  "/wf/non-retryable": nonRetryable.handler,
  "/wf/retry-after": retryAfter.handler,
  "/wf/cancel": canceller.handler,
  "/wf/webhook": webhooker.handler,
  "/wf/flaky": flaky.handler,
};

// ---------------------------------------------------------------------------------------------- node:http glue

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function toFetchRequest(req, body, port) {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const item of v) headers.append(k, item);
    else if (v !== undefined) headers.set(k, v);
  }
  const host = req.headers.host ?? `127.0.0.1:${port}`;
  const method = req.method ?? "POST";
  return new Request(`http://${host}${req.url}`, {
    method,
    headers,
    body: method === "GET" || method === "HEAD" ? undefined : body,
  });
}

async function sendFetchResponse(res, response) {
  const text = await response.text();
  const headers = {};
  response.headers.forEach((v, k) => (headers[k] = v));
  res.writeHead(response.status, headers);
  res.end(text);
  return text;
}

async function thirdParty(req, res, url, body) {
  const status = Number(url.searchParams.get("status") ?? "200");
  const delayMs = Number(url.searchParams.get("delayMs") ?? "0");
  if (delayMs > 0) await new Promise((r) => setTimeout(r, Math.min(delayMs, 60_000)));
  const echo = {
    method: req.method,
    query: Object.fromEntries(url.searchParams.entries()),
    headers: req.headers,
    body: body.toString("utf8"),
  };
  record("third-party", null, "third-party", { status, ...echo });
  if (url.searchParams.get("text")) {
    res.writeHead(status, { "content-type": "text/plain", "x-third-party": "yes" });
    res.end(`third-party said ${status}`);
  } else {
    res.writeHead(status, { "content-type": "application/json", "x-third-party": "yes" });
    res.end(JSON.stringify({ echo, status }));
  }
}

const server = http.createServer(async (req, res) => {
  const port = server.address().port;
  try {
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    const body = await readBody(req);
    if (url.pathname === "/health") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("ok");
    }
    if (url.pathname === "/sink/failure") {
      let parsed = null;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {}
      record("sink", req.headers["upstash-workflow-runid"] ?? null, "sink", {
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: body.toString("utf8"),
        json: parsed,
      });
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("sunk");
    }
    if (url.pathname === "/third-party") return await thirdParty(req, res, url, body);
    if (url.pathname === "/control/heal") {
      healed = true;
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("healed");
    }
    const handler = workflows[url.pathname] ?? (url.pathname.startsWith("/many/") ? many : undefined);
    if (!handler) {
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end(`no route ${url.pathname}`);
    }
    const response = await handler(toFetchRequest(req, body, port));
    const text = await sendFetchResponse(res, response);
    if (response.status >= 500) {
      record(url.pathname, req.headers["upstash-workflow-runid"] ?? null, "error", { status: response.status, body: text });
    }
  } catch (error) {
    process.stderr.write(`server.mjs: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(error));
  }
});

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
