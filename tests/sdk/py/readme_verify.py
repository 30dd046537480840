"""Runs the README's `verify_upstash.py` (section "Verifying a delivery without an SDK") exactly as it stands
there, with PyJWT, on the cases of verify.py: same stdin and stdout."""

import json
import pathlib
import re
import sys

README = pathlib.Path(__file__).resolve().parents[3] / "README.md"
block = re.search(r"```python\n(# verify_upstash\.py.*?)```", README.read_text(encoding="utf-8"), re.S)
if block is None:
    sys.stderr.write("readme_verify.py: README.md has no verify_upstash.py block\n")
    sys.exit(2)
namespace: dict = {}
exec(compile(block.group(1), "README.md (verify_upstash.py)", "exec"), namespace)

data = json.loads(sys.stdin.buffer.read().decode("utf-8"))
keys = [data["currentSigningKey"], data["nextSigningKey"]]
results = []
for case in data["cases"]:
    try:
        namespace["verify"](case["signature"], case["body"].encode("utf-8"), keys, case.get("url"))
        results.append({"ok": True})
    except Exception as error:  # every refusal is a result, whatever its type
        results.append({"ok": False, "error": str(error) or type(error).__name__})
sys.stdout.write(json.dumps(results) + "\n")
