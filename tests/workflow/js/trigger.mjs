// The official Upstash Workflow SDK's Client (@upstash/workflow 1.3.3), driven from the command line:
//
//   node trigger.mjs <command> ['<JSON argument>']
//
// Uses QSTASH_URL and QSTASH_TOKEN from the environment (or, with QSTASH_DEV=true, the public dev token against
// http://127.0.0.1:${QSTASH_DEV_PORT:-8080}). Prints the SDK's answer as one line of JSON on stdout and exits 0; on an
// error prints {"error": message, "status": HTTP status or null, "name": error class} and exits 1.
//
// Commands (the JSON argument is passed to the SDK method as is):
//   trigger      client.trigger(arg)      arg: {url, body, headers, workflowRunId, retries, retryDelay, delay,
//                                         notBefore, failureUrl, flowControl, label, ...} or an array of them
//   notify       client.notify(arg)       arg: {eventId, eventData, workflowRunId?}
//   getWaiters   client.getWaiters(arg)   arg: {eventId}
//   cancel       client.cancel(arg)       arg: "wfr_…" | ["wfr_…", …] | {filter: {...}, count?} | {all: true}
//   logs         client.logs(arg)         arg: {workflowRunId?, count?, cursor?, state?, workflowUrl?, filter?, ...}
//   dlq-list     client.dlq.list(arg)
//   dlq-resume   client.dlq.resume(arg)   arg: {dlqId, retries?, flowControl?} | "dlq id" | [ids] | filters
//   dlq-restart  client.dlq.restart(arg)
//   dlq-callback client.dlq.retryFailureFunction(arg)   arg: {dlqId}
//   dlq-delete   client.dlq.delete(arg)
import { Client } from "@upstash/workflow";

const [command, rawArg] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: node trigger.mjs <command> ['<JSON argument>']\n");
  process.exit(2);
}
let arg;
try {
  arg = rawArg === undefined ? undefined : JSON.parse(rawArg);
} catch (error) {
  process.stderr.write(`trigger.mjs: the argument is not JSON: ${error.message}\n`);
  process.exit(2);
}

const config = {};
if (process.env.QSTASH_URL) config.baseUrl = process.env.QSTASH_URL;
if (process.env.QSTASH_TOKEN) config.token = process.env.QSTASH_TOKEN;
const client = new Client(config);

const commands = {
  trigger: (a) => client.trigger(a),
  notify: (a) => client.notify(a),
  getWaiters: (a) => client.getWaiters(a),
  cancel: (a) => client.cancel(a),
  logs: (a) => client.logs(a),
  "dlq-list": (a) => client.dlq.list(a),
  "dlq-resume": (a) => client.dlq.resume(a),
  "dlq-restart": (a) => client.dlq.restart(a),
  "dlq-callback": (a) => client.dlq.retryFailureFunction(a),
  "dlq-delete": (a) => client.dlq.delete(a),
};

const run = commands[command];
if (!run) {
  process.stderr.write(`trigger.mjs: unknown command ${command}; one of ${Object.keys(commands).join(", ")}\n`);
  process.exit(2);
}
try {
  const answer = await run(arg);
  process.stdout.write(JSON.stringify(answer ?? null) + "\n");
} catch (error) {
  process.stdout.write(
    JSON.stringify({ error: error?.message ?? String(error), status: error?.status ?? null, name: error?.name ?? null }) + "\n",
  );
  process.exit(1);
}
