"""Drive the OFFICIAL qstash (Python) client against a running postdate server.

stdin:  {"baseUrl": "...", "token": "...", "calls": [{"op": "<name>", "args": {...}}]}
stdout: one JSON array, one element per call, in order:
        {"ok": true, "result": <json>} or {"ok": false, "error": "<message>", "status": <int or null>}
Exit status: 0, unless the input itself is malformed (then 2, with a message on stderr).

Ops (args are camelCase; the same names as client.mjs):
  publish           {url | urlGroup, body?, headers?, delay?, notBefore?, retries?, method?, timeout?,
                     contentType?, callback?, failureCallback?, callbackHeaders?, failureCallbackHeaders?,
                     deduplicationId?, contentBasedDeduplication?, label?, retryDelay?,
                     flowControl? {key, parallelism?, rate?, period?}}
  publishJSON       same as publish, with body any JSON value (contentType is ignored: always application/json)
  messageGet        {messageId}
  messageCancel     {messageId}
  messageCancelMany {messageIds}
  messageCancelAll  {}
  messageCancelFilter / messageDelete / messageDeleteMany / messageDeleteAll
                    (JS-only calling styles and deprecated names: always ok:false)
  dlqList           {cursor?, count?, filter?}   (filter keys as in the JS SDK, mapped to DlqFilter;
                     dlqIds, JS only, is always ok:false)
  dlqGet            {dlqId}
  dlqDelete         {dlqId}
  dlqDeleteMany     {dlqIds}                     (a form, JS only, is always ok:false)
  dlqDeleteFilter / dlqDeleteAll                 (not in the Python SDK 3.4.0: always ok:false)
  dlqRetry / dlqRetryFilter / dlqRetryAll        (not in the Python SDK 3.4.0: always ok:false)
  keysGet / keysRotate {}
  scheduleCreate    {destination, cron, body?, headers?, scheduleId?, method?, retries?, delay?,
                     timeout?, label?, contentType?}   (result: {scheduleId}, as in the JS SDK)
  scheduleCreateJSON same as scheduleCreate, with body any JSON value (contentType ignored: always
                     application/json)
  scheduleGet       {scheduleId}
  scheduleList      {}
  schedulePause     {scheduleId}
  scheduleResume    {scheduleId}
  scheduleDelete    {scheduleId}
  urlGroupAddEndpoints    {name, endpoints: [{url, name?}]}
  urlGroupRemoveEndpoints {name, endpoints: [{url?, name?}]}
  urlGroupGet       {name}
  urlGroupList      {}
  urlGroupDelete    {name}
  topicsAddEndpoints / topicsRemoveEndpoints / topicsGet / topicsList / topicsDelete
                    (the deprecated JS alias client.topics: always ok:false)
  queueUpsert       {queueName, parallelism?, paused?}
  queueGet          {queueName}
  queueList         {}
  queueDelete       {queueName}
  queuePause        {queueName}
  queueResume       {queueName}
  enqueue           {queueName, url | urlGroup, ...the publish options}   (the Python SDK's enqueue has
                     no delay, notBefore or flowControl: giving one is always ok:false)
  enqueueJSON       same as enqueue, with body any JSON value (contentType ignored, as for publishJSON)
  batch             {items: [{url | urlGroup, queueName?, ...the publish options}]}
  batchJSON         same as batch, with each body any JSON value (contentType ignored)
  logs              {cursor?, count?, filter?}   (filter keys as in the JS SDK, mapped to LogFilter;
                     keys LogFilter lacks are always ok:false)
  events            (the deprecated JS alias client.events: always ok:false)
  flowControlGet    {key}
  flowControlGlobalParallelism {}
  flowControlPause / flowControlResume / flowControlResetRate {key}
  flowControlPin    {key, parallelism?, rate?, period?}
  flowControlUnpin  {key, parallelism?, rate?}   (booleans)

Results are the SDK's return values: dataclasses become objects with the SDK's
snake_case field names, enums become their values.

Used by postdate's Rust integration tests (see POSTDATE_SDK_PYTHON in scripts/test).
"""

import contextlib
import dataclasses
import enum
import inspect
import json
import os
import re
import sys

# The client falls back to QSTASH_URL when base_url is empty; never let the environment steer it.
for _name in ("QSTASH_URL", "QSTASH_TOKEN", "QSTASH_DEV", "QSTASH_REGION"):
    os.environ.pop(_name, None)

from qstash import QStash  # noqa: E402
from qstash.errors import (  # noqa: E402
    DailyMessageLimitExceededError,
    QStashError,
    RateLimitExceededError,
)
from qstash.log import LogState  # noqa: E402
from qstash.message import BatchJsonRequest, BatchRequest  # noqa: E402


class NotInSdk(Exception):
    pass


def fail(message):
    sys.stderr.write(f"client.py: {message}\n")
    sys.exit(2)


def to_json(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return vars(value) if hasattr(value, "__dict__") else str(value)


def without_none(**kwargs):
    return {k: v for k, v in kwargs.items() if v is not None}


# camelCase message options (publish, enqueue, batch items) -> qstash keyword arguments.
MESSAGE_KWARGS = {
    "url": "url",
    "urlGroup": "url_group",
    "headers": "headers",
    "delay": "delay",
    "notBefore": "not_before",
    "retries": "retries",
    "method": "method",
    "timeout": "timeout",
    "callback": "callback",
    "failureCallback": "failure_callback",
    "callbackHeaders": "callback_headers",
    "failureCallbackHeaders": "failure_callback_headers",
    "deduplicationId": "deduplication_id",
    "contentBasedDeduplication": "content_based_deduplication",
    "label": "label",
    "retryDelay": "retry_delay",
    "flowControl": "flow_control",
}


def message_kwargs(args, accepted, what):
    """The given message options as keyword arguments; NotInSdk for those `accepted` lacks."""
    kwargs = without_none(**{py: args.get(js) for js, py in MESSAGE_KWARGS.items()})
    missing = sorted(js for js, py in MESSAGE_KWARGS.items() if py in kwargs and py not in accepted)
    if missing:
        raise NotInSdk(f"{what} options not in Python SDK: {', '.join(missing)}")
    return kwargs


def parameters(method):
    return inspect.signature(method).parameters


def op_publish(client, args):
    kwargs = message_kwargs(args, parameters(client.message.publish), "message.publish")
    if args.get("body") is not None:
        kwargs["body"] = args["body"]
    if args.get("contentType") is not None:
        kwargs["content_type"] = args["contentType"]
    return client.message.publish(**kwargs)


def op_publish_json(client, args):
    # publish_json always serializes body (None becomes "null"), like JSON.stringify in JS.
    kwargs = message_kwargs(args, parameters(client.message.publish_json), "message.publish_json")
    kwargs["body"] = args.get("body")
    return client.message.publish_json(**kwargs)


def op_enqueue(client, args):
    kwargs = message_kwargs(args, parameters(client.message.enqueue), "message.enqueue")
    kwargs["queue"] = args["queueName"]
    if args.get("body") is not None:
        kwargs["body"] = args["body"]
    if args.get("contentType") is not None:
        kwargs["content_type"] = args["contentType"]
    return client.message.enqueue(**kwargs)


def op_enqueue_json(client, args):
    # As publish_json: body is always serialized.
    kwargs = message_kwargs(args, parameters(client.message.enqueue_json), "message.enqueue_json")
    kwargs["queue"] = args["queueName"]
    kwargs["body"] = args.get("body")
    return client.message.enqueue_json(**kwargs)


def batch_items(args, request_type, json_bodies):
    items = args["items"]
    if not isinstance(items, list):
        raise TypeError("items must be an array")
    accepted = request_type.__annotations__
    result = []
    for item in items:
        entry = message_kwargs(item, accepted, request_type.__name__)
        if item.get("queueName") is not None:
            entry["queue"] = item["queueName"]
        if json_bodies:
            # batch_json serializes every body (a missing one becomes "null").
            if "body" in item:
                entry["body"] = item["body"]
        else:
            if item.get("body") is not None:
                entry["body"] = item["body"]
            if item.get("contentType") is not None:
                entry["content_type"] = item["contentType"]
        result.append(entry)
    return result


def op_batch(client, args):
    return client.message.batch(batch_items(args, BatchRequest, json_bodies=False))


def op_batch_json(client, args):
    return client.message.batch_json(batch_items(args, BatchJsonRequest, json_bodies=True))


# JS-style DLQ filter keys -> qstash.dlq.DlqFilter keys.
DLQ_FILTER_KEYS = {
    "messageId": "message_id",
    "url": "url",
    "urlGroup": "url_group",
    "queueName": "queue",
    "scheduleId": "schedule_id",
    "fromDate": "from_time",
    "toDate": "to_time",
    "responseStatus": "response_status",
    "callerIp": "caller_ip",
    "label": "label",
}


def op_dlq_list(client, args):
    if args.get("dlqIds") is not None:
        raise NotInSdk("dlq.list takes no dlq ids in the Python SDK")
    kwargs = without_none(cursor=args.get("cursor"), count=args.get("count"))
    raw_filter = args.get("filter")
    if raw_filter is not None:
        unknown = sorted(set(raw_filter) - set(DLQ_FILTER_KEYS))
        if unknown:
            raise NotInSdk(f"DLQ filter keys not in Python SDK: {', '.join(unknown)}")
        kwargs["filter"] = {DLQ_FILTER_KEYS[k]: v for k, v in raw_filter.items()}
    return client.dlq.list(**kwargs)


# JS-style logs filter keys -> qstash.log.LogFilter keys.
LOG_FILTER_KEYS = {
    "messageId": "message_id",
    "messageIds": "message_ids",
    "state": "state",
    "url": "url",
    "urlGroup": "url_group",
    "queueName": "queue",
    "scheduleId": "schedule_id",
    "fromDate": "from_time",
    "toDate": "to_time",
    "label": "label",
}


def op_logs(client, args):
    kwargs = without_none(cursor=args.get("cursor"), count=args.get("count"))
    raw_filter = args.get("filter")
    if raw_filter is not None:
        unknown = sorted(set(raw_filter) - set(LOG_FILTER_KEYS))
        if unknown:
            raise NotInSdk(f"logs filter keys not in Python SDK: {', '.join(unknown)}")
        log_filter = {LOG_FILTER_KEYS[k]: v for k, v in raw_filter.items()}
        if "state" in log_filter:
            # LogFilter.state is the LogState enum (the SDK sends its .value).
            log_filter["state"] = LogState(log_filter["state"])
        kwargs["filter"] = log_filter
    return client.log.list(**kwargs)


# camelCase op args -> qstash ScheduleApi.create keyword arguments.
SCHEDULE_CREATE_KWARGS = {
    "destination": "destination",
    "cron": "cron",
    "body": "body",
    "headers": "headers",
    "scheduleId": "schedule_id",
    "method": "method",
    "retries": "retries",
    "delay": "delay",
    "timeout": "timeout",
    "label": "label",
    "contentType": "content_type",
}


def op_schedule_create(client, args):
    kwargs = without_none(**{py: args.get(js) for js, py in SCHEDULE_CREATE_KWARGS.items()})
    accepted = inspect.signature(client.schedule.create).parameters
    missing = sorted(name for name in kwargs if name not in accepted)
    if missing:
        raise NotInSdk(f"schedule.create parameters not in Python SDK: {', '.join(missing)}")
    # The Python SDK returns the bare id; wrap it like the JS SDK's {scheduleId} result.
    return {"scheduleId": client.schedule.create(**kwargs)}


def op_schedule_create_json(client, args):
    # create_json always serializes body (None becomes "null") and sets application/json.
    kwargs = without_none(
        **{py: args.get(js) for js, py in SCHEDULE_CREATE_KWARGS.items() if js not in ("body", "contentType")}
    )
    accepted = inspect.signature(client.schedule.create_json).parameters
    missing = sorted(name for name in kwargs if name not in accepted)
    if missing:
        raise NotInSdk(f"schedule.create_json parameters not in Python SDK: {', '.join(missing)}")
    kwargs["body"] = args.get("body")
    return {"scheduleId": client.schedule.create_json(**kwargs)}


def not_in_sdk(_client, _args):
    raise NotInSdk("not in Python SDK")


def op_dlq_delete_many(client, args):
    if args.get("form") is not None:
        raise NotInSdk("dlq.delete_many has no calling styles in the Python SDK")
    return client.dlq.delete_many(args["dlqIds"])


OPS = {
    "publish": op_publish,
    "publishJSON": op_publish_json,
    "messageGet": lambda c, a: c.message.get(a["messageId"]),
    "messageCancel": lambda c, a: c.message.cancel(a["messageId"]),
    "messageCancelMany": lambda c, a: c.message.cancel_many(a["messageIds"]),
    "messageCancelAll": lambda c, a: c.message.cancel_all(),
    # JS-only: cancel by filter, and the deprecated delete names.
    "messageCancelFilter": not_in_sdk,
    "messageDelete": not_in_sdk,
    "messageDeleteMany": not_in_sdk,
    "messageDeleteAll": not_in_sdk,
    "dlqList": op_dlq_list,
    "dlqGet": lambda c, a: c.dlq.get(a["dlqId"]),
    "dlqDelete": lambda c, a: c.dlq.delete(a["dlqId"]),
    "dlqDeleteMany": op_dlq_delete_many,
    # qstash 3.4.0's DlqApi has get/list/delete/delete_many only.
    "dlqDeleteFilter": not_in_sdk,
    "dlqDeleteAll": not_in_sdk,
    "dlqRetry": not_in_sdk,
    "dlqRetryFilter": not_in_sdk,
    "dlqRetryAll": not_in_sdk,
    "keysGet": lambda c, a: c.signing_key.get(),
    "keysRotate": lambda c, a: c.signing_key.rotate(),
    "scheduleCreate": op_schedule_create,
    "scheduleCreateJSON": op_schedule_create_json,
    "scheduleGet": lambda c, a: c.schedule.get(a["scheduleId"]),
    "scheduleList": lambda c, a: c.schedule.list(),
    "schedulePause": lambda c, a: c.schedule.pause(a["scheduleId"]),
    "scheduleResume": lambda c, a: c.schedule.resume(a["scheduleId"]),
    "scheduleDelete": lambda c, a: c.schedule.delete(a["scheduleId"]),
    "urlGroupAddEndpoints": lambda c, a: c.url_group.upsert_endpoints(url_group=a["name"], endpoints=a["endpoints"]),
    "urlGroupRemoveEndpoints": lambda c, a: c.url_group.remove_endpoints(url_group=a["name"], endpoints=a["endpoints"]),
    "urlGroupGet": lambda c, a: c.url_group.get(a["name"]),
    "urlGroupList": lambda c, a: c.url_group.list(),
    "urlGroupDelete": lambda c, a: c.url_group.delete(a["name"]),
    # The deprecated JS alias client.topics.
    "topicsAddEndpoints": not_in_sdk,
    "topicsRemoveEndpoints": not_in_sdk,
    "topicsGet": not_in_sdk,
    "topicsList": not_in_sdk,
    "topicsDelete": not_in_sdk,
    "queueUpsert": lambda c, a: c.queue.upsert(
        a["queueName"], **without_none(parallelism=a.get("parallelism"), paused=a.get("paused"))
    ),
    "queueGet": lambda c, a: c.queue.get(a["queueName"]),
    "queueList": lambda c, a: c.queue.list(),
    "queueDelete": lambda c, a: c.queue.delete(a["queueName"]),
    "queuePause": lambda c, a: c.queue.pause(a["queueName"]),
    "queueResume": lambda c, a: c.queue.resume(a["queueName"]),
    "enqueue": op_enqueue,
    "enqueueJSON": op_enqueue_json,
    "batch": op_batch,
    "batchJSON": op_batch_json,
    "logs": op_logs,
    # The deprecated JS alias client.events.
    "events": not_in_sdk,
    "flowControlGet": lambda c, a: c.flow_control.get(a["key"]),
    "flowControlGlobalParallelism": lambda c, a: c.flow_control.get_global_parallelism(),
    "flowControlPause": lambda c, a: c.flow_control.pause(a["key"]),
    "flowControlResume": lambda c, a: c.flow_control.resume(a["key"]),
    "flowControlPin": lambda c, a: c.flow_control.pin(
        a["key"], without_none(parallelism=a.get("parallelism"), rate=a.get("rate"), period=a.get("period"))
    ),
    "flowControlUnpin": lambda c, a: c.flow_control.unpin(
        a["key"], without_none(parallelism=a.get("parallelism"), rate=a.get("rate"))
    ),
    "flowControlResetRate": lambda c, a: c.flow_control.reset_rate(a["key"]),
}

STATUS_RE = re.compile(r"Request failed with status: (\d+)")


def error_status(error):
    if isinstance(error, (RateLimitExceededError, DailyMessageLimitExceededError)):
        return 429
    if isinstance(error, QStashError):
        match = STATUS_RE.search(str(error))
        if match:
            return int(match.group(1))
    return None


def error_message(error):
    text = str(error)
    if isinstance(error, KeyError):
        text = f"missing key {text}"
    return text if text else type(error).__name__


def main():
    try:
        data = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        fail(f"stdin is not valid JSON: {e}")
    if not isinstance(data, dict):
        fail("stdin must be a JSON object")
    base_url = data.get("baseUrl")
    token = data.get("token")
    calls = data.get("calls")
    if not isinstance(base_url, str) or not isinstance(token, str):
        fail("baseUrl and token must be strings")
    if not isinstance(calls, list):
        fail("calls must be an array")
    for i, call in enumerate(calls):
        if not isinstance(call, dict):
            fail(f"calls[{i}] must be an object")
        if call.get("op") not in OPS:
            fail(f"calls[{i}].op: unknown op {json.dumps(call.get('op'))}")
        if call.get("args") is not None and not isinstance(call.get("args"), dict):
            fail(f"calls[{i}].args must be an object")

    # retry=False so a refused connection fails at once instead of after ~5 backed-off attempts.
    client = QStash(token, base_url=base_url, retry=False)

    results = []
    for call in calls:
        try:
            # Keep stdout for the results: qstash 3.4.0's log.list() print()s the raw response.
            with contextlib.redirect_stdout(sys.stderr):
                result = OPS[call["op"]](client, call.get("args") or {})
            results.append({"ok": True, "result": to_json(result)})
        except Exception as e:  # noqa: BLE001 - every failure is a call result
            results.append({"ok": False, "error": error_message(e), "status": error_status(e)})

    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
