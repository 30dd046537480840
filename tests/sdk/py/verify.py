"""Verify Upstash-Signature JWTs with the OFFICIAL qstash (Python) Receiver.

stdin:  {"currentSigningKey": "...", "nextSigningKey": "...",
         "cases": [{"signature": "<jwt>", "body": "<utf-8 string>", "url": "<string or null>",
                    "clockTolerance": <optional int seconds>}]}
stdout: one JSON array, one element per case, in order:
        {"ok": true} or {"ok": false, "error": "<message>"}
Exit status: 0, unless the input itself is malformed (then 2, with a message on stderr).

Used by postdate's Rust integration tests (see POSTDATE_SDK_PYTHON in scripts/test).
"""

import json
import sys

from qstash import Receiver


def fail(message: str) -> None:
    sys.stderr.write(f"verify.py: {message}\n")
    sys.exit(2)


def error_message(error: BaseException) -> str:
    text = str(error)
    return text if text else type(error).__name__


def main() -> None:
    try:
        data = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        fail(f"stdin is not valid JSON: {e}")
    if not isinstance(data, dict):
        fail("stdin must be a JSON object")
    current = data.get("currentSigningKey")
    nxt = data.get("nextSigningKey")
    cases = data.get("cases")
    if not isinstance(current, str) or not isinstance(nxt, str):
        fail("currentSigningKey and nextSigningKey must be strings")
    if not isinstance(cases, list):
        fail("cases must be an array")
    for i, case in enumerate(cases):
        if not isinstance(case, dict):
            fail(f"cases[{i}] must be an object")
        if not isinstance(case.get("signature"), str):
            fail(f"cases[{i}].signature must be a string")
        if not isinstance(case.get("body"), str):
            fail(f"cases[{i}].body must be a string")
        if case.get("url") is not None and not isinstance(case.get("url"), str):
            fail(f"cases[{i}].url must be a string or null")

    receiver = Receiver(current_signing_key=current, next_signing_key=nxt)

    results = []
    for case in cases:
        kwargs = {}
        tolerance = case.get("clockTolerance")
        if isinstance(tolerance, int) and not isinstance(tolerance, bool):
            kwargs["clock_tolerance"] = tolerance
        try:
            receiver.verify(
                signature=case["signature"],
                body=case["body"],
                url=case.get("url"),
                **kwargs,
            )
            results.append({"ok": True})
        except Exception as e:  # noqa: BLE001 - every failure is a verification result
            results.append({"ok": False, "error": error_message(e)})

    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
