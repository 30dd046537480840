// Drives the OFFICIAL @upstash/qstash Client against a running postdate server.
//
// stdin:  {"baseUrl": "...", "token": "...", "calls": [{"op": "<name>", "args": {...}}]}
// stdout: one JSON array, one element per call, in order:
//         {"ok": true, "result": <json>} or {"ok": false, "error": "<message>", "status": <int or null>}
// Exit status: 0, unless the input itself is malformed (then 2, with a message on stderr).
//
// Ops (args are camelCase; the same names as client.py):
//   publish        {url | urlGroup, body?, headers?, delay?, notBefore?, retries?, method?, timeout?,
//                   contentType?, callback?, failureCallback?, callbackHeaders?, failureCallbackHeaders?,
//                   deduplicationId?, contentBasedDeduplication?, label?, retryDelay?,
//                   flowControl? {key, parallelism?, rate?, period?}}
//                   (callbackHeaders / failureCallbackHeaders are Python-only: given here, always ok:false)
//   publishJSON    same as publish, with body any JSON value (contentType is ignored: always application/json)
//   messageGet     {messageId}
//   messageCancel  {messageId}
//   messageCancelMany {messageIds}
//   messageCancelAll  {}
//   messageCancelFilter {filter, count?}   (cancel({filter, count}); JS only)
//   messageDelete     {messageId}          (deprecated messages.delete; JS only)
//   messageDeleteMany {messageIds}         (deprecated messages.deleteMany; JS only)
//   messageDeleteAll  {}                   (deprecated messages.deleteAll; JS only)
//   dlqList        {cursor?, count?, filter?} or {dlqIds, count?} (listMessages({dlqIds}) is JS only)
//   dlqGet         {dlqId}            (not in the JS SDK: always ok:false)
//   dlqDelete      {dlqId}
//   dlqDeleteMany  {dlqIds, form?}    form: "deleteMany" (default) deleteMany({dlqIds}), "array" delete([ids]),
//                                     "object" delete({dlqIds}) (the forms are JS only)
//   dlqDeleteFilter {filter, count?, cursor?}   (delete({filter, count, cursor}); JS only)
//   dlqDeleteAll    {count?, cursor?}           (delete({all: true, count, cursor}); JS only)
//   dlqRetry       {dlqId} retry(id), or {dlqIds, form?} form: "object" (default) retry({dlqIds}), "array" retry([ids])
//   dlqRetryFilter {filter, count?, cursor?}    (JS only)
//   dlqRetryAll    {count?, cursor?}            (JS only)
//   keysGet / keysRotate {}           (not in the JS SDK: always ok:false)
//   scheduleCreate {destination, cron, body?, headers?, scheduleId?, method?, retries?, delay?,
//                   timeout?, label?, contentType?}   (result: {scheduleId})
//   scheduleCreateJSON {...}          (Python's schedule.create_json; not in the JS SDK: always ok:false)
//   scheduleGet    {scheduleId}
//   scheduleList   {}
//   schedulePause  {scheduleId}
//   scheduleResume {scheduleId}
//   scheduleDelete {scheduleId}
//   urlGroupAddEndpoints    {name, endpoints: [{url, name?}]}
//   urlGroupRemoveEndpoints {name, endpoints: [{url?, name?}]}
//   urlGroupGet    {name}
//   urlGroupList   {}
//   urlGroupDelete {name}
//   topicsAddEndpoints / topicsRemoveEndpoints / topicsGet / topicsList / topicsDelete
//                  as the urlGroup* ops, through the deprecated client.topics alias (JS only)
//   queueUpsert    {queueName, parallelism?, paused?}
//   queueGet       {queueName}
//   queueList      {}
//   queueDelete    {queueName}
//   queuePause     {queueName}
//   queueResume    {queueName}
//   enqueue        {queueName, url | urlGroup, ...the publish options}
//   enqueueJSON    same as enqueue, with body any JSON value (contentType ignored, as for publishJSON)
//   batch          {items: [{url | urlGroup, queueName?, ...the publish options}]}
//   batchJSON      same as batch, with each body any JSON value (contentType ignored)
//   logs           {cursor?, count?, filter?}   (filter keys as the JS SDK's logs filter; filter.messageIds
//                   becomes the SDK's top-level messageIds, which the SDK takes only without cursor and
//                   other filter keys: that combination is always ok:false)
//   events         as logs, through the deprecated client.events alias (JS only)
//   flowControlGet {key}
//   flowControlGlobalParallelism {}
//   flowControlPause / flowControlResume / flowControlResetRate {key}
//   flowControlPin   {key, parallelism?, rate?, period?}
//   flowControlUnpin {key, parallelism?, rate?}   (booleans)
//
// Used by postdate's Rust integration tests (see POSTDATE_SDK_NODE in scripts/test).

// Never let the SDK switch to dev mode or region-specific credentials from the environment.
for (const name of Object.keys(process.env)) {
  if (name === "QSTASH_DEV" || name === "QSTASH_DEV_PORT" || name === "QSTASH_REGION" || name === "QSTASH_URL" || name === "QSTASH_TOKEN") {
    delete process.env[name];
  }
}

const { Client, QstashError } = await import("@upstash/qstash");

function fail(message) {
  process.stderr.write(`client.mjs: ${message}\n`);
  process.exit(2);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function errorMessage(error) {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

class NotInSdk extends Error {}

// Drop undefined values so the SDK sees exactly the options the test gave.
function defined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

// Options the Python SDK has and the JS SDK lacks.
const PYTHON_ONLY_OPTIONS = ["callbackHeaders", "failureCallbackHeaders"];

function publishRequest(args) {
  for (const name of PYTHON_ONLY_OPTIONS) {
    if (args[name] !== undefined) throw new NotInSdk(`${name} is not in the JS SDK`);
  }
  const headers = { ...(args.headers ?? {}) };
  // The JS SDK has no contentType option: Content-Type travels as a plain (unprefixed) header.
  if (args.contentType !== undefined) headers["Content-Type"] = args.contentType;
  return defined({
    url: args.url,
    urlGroup: args.urlGroup,
    body: args.body,
    headers: Object.keys(headers).length > 0 ? headers : undefined,
    delay: args.delay,
    notBefore: args.notBefore,
    retries: args.retries,
    method: args.method,
    timeout: args.timeout,
    callback: args.callback,
    failureCallback: args.failureCallback,
    deduplicationId: args.deduplicationId,
    contentBasedDeduplication: args.contentBasedDeduplication,
    label: args.label,
    retryDelay: args.retryDelay,
    flowControl: args.flowControl,
  });
}

function batchRequest(args) {
  if (!Array.isArray(args.items)) throw new Error("items must be an array");
  return args.items.map((item) => defined({ ...publishRequest(item), queueName: item.queueName }));
}

function logsRequest(args) {
  if (args.filter?.messageIds !== undefined) {
    // The SDK takes messageIds at the top level, exclusive of cursor and the filter object.
    const { messageIds, ...rest } = args.filter;
    if (args.cursor !== undefined || Object.keys(rest).length > 0) {
      throw new NotInSdk("JS SDK logs() takes messageIds only without cursor and other filter keys");
    }
    return defined({ count: args.count, messageIds });
  }
  return defined({ cursor: args.cursor, count: args.count, filter: args.filter });
}

function dlqListRequest(args) {
  if (args.dlqIds !== undefined) {
    // The SDK takes dlqIds exclusive of cursor and filter.
    if (args.cursor !== undefined || args.filter !== undefined) {
      throw new NotInSdk("JS SDK dlq.listMessages() takes dlqIds only without cursor and filter");
    }
    return defined({ count: args.count, dlqIds: args.dlqIds });
  }
  return defined({ cursor: args.cursor, count: args.count, filter: args.filter });
}

// The request of dlq.delete / dlq.retry for a list of ids, in the calling style `form` names.
function dlqIdsRequest(args, defaultForm) {
  const form = args.form ?? defaultForm;
  if (form === "array") return args.dlqIds;
  if (form === "object") return { dlqIds: args.dlqIds };
  throw new Error(`unknown form ${JSON.stringify(form)}`);
}

function scheduleRequest(args) {
  const headers = { ...(args.headers ?? {}) };
  // As for publish: Content-Type travels as a plain (unprefixed) header.
  if (args.contentType !== undefined) headers["Content-Type"] = args.contentType;
  return defined({
    destination: args.destination,
    cron: args.cron,
    body: args.body,
    headers: Object.keys(headers).length > 0 ? headers : undefined,
    scheduleId: args.scheduleId,
    method: args.method,
    retries: args.retries,
    delay: args.delay,
    timeout: args.timeout,
    label: args.label,
  });
}

const ops = {
  publish: (client, args) => client.publish(publishRequest(args)),
  publishJSON: (client, args) => client.publishJSON(publishRequest(args)),
  messageGet: (client, args) => client.messages.get(args.messageId),
  messageCancel: (client, args) => client.messages.cancel(args.messageId),
  messageCancelMany: (client, args) => client.messages.cancel(args.messageIds),
  messageCancelAll: (client) => client.messages.cancel({ all: true }),
  messageCancelFilter: (client, args) => client.messages.cancel(defined({ filter: args.filter, count: args.count })),
  messageDelete: (client, args) => client.messages.delete(args.messageId),
  messageDeleteMany: (client, args) => client.messages.deleteMany(args.messageIds),
  messageDeleteAll: (client) => client.messages.deleteAll(),
  dlqList: (client, args) => client.dlq.listMessages(dlqListRequest(args)),
  dlqGet: () => {
    throw new NotInSdk("not in JS SDK");
  },
  dlqDelete: (client, args) => client.dlq.delete(args.dlqId),
  dlqDeleteMany: (client, args) =>
    (args.form ?? "deleteMany") === "deleteMany"
      ? client.dlq.deleteMany({ dlqIds: args.dlqIds })
      : client.dlq.delete(dlqIdsRequest(args)),
  dlqDeleteFilter: (client, args) =>
    client.dlq.delete(defined({ filter: args.filter, count: args.count, cursor: args.cursor })),
  dlqDeleteAll: (client, args) => client.dlq.delete(defined({ all: true, count: args.count, cursor: args.cursor })),
  dlqRetry: (client, args) =>
    client.dlq.retry(args.dlqId !== undefined ? args.dlqId : dlqIdsRequest(args, "object")),
  dlqRetryFilter: (client, args) =>
    client.dlq.retry(defined({ filter: args.filter, count: args.count, cursor: args.cursor })),
  dlqRetryAll: (client, args) => client.dlq.retry(defined({ all: true, count: args.count, cursor: args.cursor })),
  keysGet: () => {
    throw new NotInSdk("not in JS SDK");
  },
  keysRotate: () => {
    throw new NotInSdk("not in JS SDK");
  },
  scheduleCreate: (client, args) => client.schedules.create(scheduleRequest(args)),
  scheduleCreateJSON: () => {
    throw new NotInSdk("not in JS SDK");
  },
  scheduleGet: (client, args) => client.schedules.get(args.scheduleId),
  scheduleList: (client) => client.schedules.list(),
  schedulePause: (client, args) => client.schedules.pause({ schedule: args.scheduleId }),
  scheduleResume: (client, args) => client.schedules.resume({ schedule: args.scheduleId }),
  scheduleDelete: (client, args) => client.schedules.delete(args.scheduleId),
  urlGroupAddEndpoints: (client, args) => client.urlGroups.addEndpoints({ name: args.name, endpoints: args.endpoints }),
  urlGroupRemoveEndpoints: (client, args) =>
    client.urlGroups.removeEndpoints({ name: args.name, endpoints: args.endpoints }),
  urlGroupGet: (client, args) => client.urlGroups.get(args.name),
  urlGroupList: (client) => client.urlGroups.list(),
  urlGroupDelete: (client, args) => client.urlGroups.delete(args.name),
  topicsAddEndpoints: (client, args) => client.topics.addEndpoints({ name: args.name, endpoints: args.endpoints }),
  topicsRemoveEndpoints: (client, args) => client.topics.removeEndpoints({ name: args.name, endpoints: args.endpoints }),
  topicsGet: (client, args) => client.topics.get(args.name),
  topicsList: (client) => client.topics.list(),
  topicsDelete: (client, args) => client.topics.delete(args.name),
  queueUpsert: (client, args) =>
    client.queue({ queueName: args.queueName }).upsert(defined({ parallelism: args.parallelism, paused: args.paused })),
  queueGet: (client, args) => client.queue({ queueName: args.queueName }).get(),
  queueList: (client) => client.queue().list(),
  queueDelete: (client, args) => client.queue({ queueName: args.queueName }).delete(),
  queuePause: (client, args) => client.queue({ queueName: args.queueName }).pause(),
  queueResume: (client, args) => client.queue({ queueName: args.queueName }).resume(),
  enqueue: (client, args) => client.queue({ queueName: args.queueName }).enqueue(publishRequest(args)),
  enqueueJSON: (client, args) => client.queue({ queueName: args.queueName }).enqueueJSON(publishRequest(args)),
  batch: (client, args) => client.batch(batchRequest(args)),
  batchJSON: (client, args) => client.batchJSON(batchRequest(args)),
  logs: (client, args) => client.logs(logsRequest(args)),
  events: (client, args) => client.events(logsRequest(args)),
  flowControlGet: (client, args) => client.flowControl.get(args.key),
  flowControlGlobalParallelism: (client) => client.flowControl.getGlobalParallelism(),
  flowControlPause: (client, args) => client.flowControl.pause(args.key),
  flowControlResume: (client, args) => client.flowControl.resume(args.key),
  flowControlPin: (client, args) =>
    client.flowControl.pin(args.key, defined({ parallelism: args.parallelism, rate: args.rate, period: args.period })),
  flowControlUnpin: (client, args) =>
    client.flowControl.unpin(args.key, defined({ parallelism: args.parallelism, rate: args.rate })),
  flowControlResetRate: (client, args) => client.flowControl.resetRate(args.key),
};

let input;
try {
  input = JSON.parse(await readStdin());
} catch (error) {
  fail(`stdin is not valid JSON: ${errorMessage(error)}`);
}
if (input === null || typeof input !== "object" || Array.isArray(input)) fail("stdin must be a JSON object");
const { baseUrl, token, calls } = input;
if (typeof baseUrl !== "string" || typeof token !== "string") fail("baseUrl and token must be strings");
if (!Array.isArray(calls)) fail("calls must be an array");
calls.forEach((call, i) => {
  if (call === null || typeof call !== "object") fail(`calls[${i}] must be an object`);
  if (typeof call.op !== "string") fail(`calls[${i}].op must be a string`);
  if (!Object.hasOwn(ops, call.op)) fail(`calls[${i}].op: unknown op ${JSON.stringify(call.op)}`);
  if (call.args !== undefined && (call.args === null || typeof call.args !== "object")) fail(`calls[${i}].args must be an object`);
});

// retry: false so a refused connection fails at once instead of after ~5 backed-off attempts.
const client = new Client({ baseUrl, token, retry: false, devMode: false });

const results = [];
for (const call of calls) {
  try {
    const result = await ops[call.op](client, call.args ?? {});
    results.push({ ok: true, result: result === undefined ? null : result });
  } catch (error) {
    const status = error instanceof QstashError && typeof error.status === "number" ? error.status : null;
    results.push({ ok: false, error: errorMessage(error), status });
  }
}

process.stdout.write(JSON.stringify(results) + "\n");
