"""A workflow app built with the official Python Upstash Workflow SDK (upstash-workflow, pinned in
requirements.txt) on the standard library's HTTP server, for postdate's Rust integration tests.

    python app.py            # listens on 127.0.0.1 (PORT=…, or a free port) and prints `listening <port>`

The SDK reads QSTASH_URL, QSTASH_TOKEN and, when set, QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY
(every delivery's signature is then checked). Every event is one JSON line appended to WORKFLOW_EVENTS_FILE:
{workflow, runId, kind, ...}; kinds "step" (name, out) and "result".

Routes (POST):
  /wf/py           context.run, context.sleep(payload["sleep"] seconds), context.call to /third-party, context.run
  /third-party     a plain endpoint: answers 200 with {"echo": <the request body>}
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from upstash_workflow import serve
from upstash_workflow.workflow_types import _SyncRequest

EVENTS = os.environ.get("WORKFLOW_EVENTS_FILE")


def record(run_id, kind, **data):
    line = json.dumps({"workflow": "py", "runId": run_id, "kind": kind, **data}) + "\n"
    if EVENTS:
        with open(EVENTS, "a") as f:
            f.write(line)
    else:
        sys.stderr.write(line)


def route(context):
    payload = context.request_payload or {}

    def first():
        out = f"py:{payload.get('input', '')}"
        record(context.workflow_run_id, "step", name="first", out=out)
        return out

    a = context.run("first", first)
    context.sleep("nap", payload.get("sleep", 5))
    called = context.call(
        "third-party",
        url=payload["callUrl"],
        method="POST",
        body={"from": a},
    )

    def last():
        out = {"status": called.status, "body": called.body, "a": a}
        record(context.workflow_run_id, "step", name="last", out=out)
        return out

    result = context.run("last", last)
    if not getattr(context, "disabled", False):
        record(context.workflow_run_id, "result", result=result)
    return result


handler = serve(route)["handler"]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode("utf-8")
        if self.path.startswith("/third-party"):
            return self.answer(200, {"Content-Type": "application/json"}, json.dumps({"echo": json.loads(body or "null")}))
        if not self.path.startswith("/wf/py"):
            return self.answer(404, {}, "no route")
        host = self.headers.get("host") or f"127.0.0.1:{self.server.server_address[1]}"
        response = handler(
            _SyncRequest(body=body, headers=self.headers, method="POST", url=f"http://{host}{self.path}", query={})
        )
        self.answer(response.status, response.headers or {}, response.body)

    def answer(self, status, headers, body):
        data = body.encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
