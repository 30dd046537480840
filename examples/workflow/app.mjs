// An Upstash Workflow app, unchanged from what runs on Upstash, against `postdate dev`:
//
//   postdate dev                                   # in one terminal
//   npm install && QSTASH_DEV=true npm start       # in another: listens on 127.0.0.1:3000 (PORT=… to change)
//   curl -X POST localhost:3000/start -d '{"email":"ada@example.com"}'     # starts a run
//   curl -X POST 'localhost:3000/notify?user=ada'                           # sends the event it waits for
//
// QSTASH_DEV=true makes the SDK use the public dev token and signing keys against http://127.0.0.1:8080
// (QSTASH_DEV_PORT=… for another port), which are exactly what `postdate dev` accepts and signs with; every
// delivery's signature is checked by the SDK (so a run starts through `client.trigger`, not by calling the
// workflow route directly, which carries no signature). The run: a step, a parallel pair of steps, a 2-second sleep,
// a wait for an event (which `/notify` sends), and a last step. Each step prints one line.
import http from "node:http";
import { serve, Client } from "@upstash/workflow";

const log = (runId, what) => process.stdout.write(`${runId} ${what}\n`);

const onboarding = serve(async (context) => {
  const { email } = context.requestPayload ?? {};
  const user = await context.run("create-user", () => {
    log(context.workflowRunId, `create-user ${email}`);
    return { email, id: email?.split("@")[0] ?? "anonymous" };
  });
  const [welcome, crm] = await Promise.all([
    context.run("send-welcome", () => {
      log(context.workflowRunId, `send-welcome ${user.email}`);
      return "sent";
    }),
    context.run("add-to-crm", () => {
      log(context.workflowRunId, `add-to-crm ${user.id}`);
      return "added";
    }),
  ]);
  await context.sleep("pause", "2s");
  const { eventData, timeout } = await context.waitForEvent("confirmed", `confirm-${user.id}`, { timeout: "1h" });
  const summary = await context.run("summary", () => {
    const text = `${user.id}: ${welcome}, ${crm}, confirmed=${!timeout && eventData?.ok === true}`;
    log(context.workflowRunId, `done ${text}`);
    return text;
  });
  return { summary };
});

// `/start` triggers a run with the request's body; `/notify?user=ada` sends the event the run waits for.
const client = new Client();

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  try {
    if (url.pathname === "/start") {
      const { workflowRunId } = await client.trigger({
        url: `http://${req.headers.host}/onboarding`,
        body: JSON.parse(body.toString("utf8") || "{}"),
      });
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ workflowRunId }));
    }
    if (url.pathname === "/notify") {
      const notified = await client.notify({ eventId: `confirm-${url.searchParams.get("user")}`, eventData: { ok: true } });
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(notified));
    }
    if (url.pathname !== "/onboarding") {
      res.writeHead(404);
      return res.end();
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      for (const item of [value].flat()) if (item !== undefined) headers.append(name, item);
    }
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body });
    const response = await onboarding.handler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(await response.text());
  } catch (error) {
    res.writeHead(500);
    res.end(String(error));
  }
});

const port = Number(process.env.PORT ?? 3000);
server.listen(port, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
