// Verifies Upstash-Signature JWTs with the OFFICIAL @upstash/qstash Receiver.
//
// stdin:  {"currentSigningKey": "...", "nextSigningKey": "...",
//          "cases": [{"signature": "<jwt>", "body": "<utf-8 string>", "url": "<string or null>",
//                     "clockTolerance": <optional int seconds>}]}
// stdout: one JSON array, one element per case, in order:
//         {"ok": true} or {"ok": false, "error": "<message>"}
// Exit status: 0, unless the input itself is malformed (then 2, with a message on stderr).
//
// Used by postdate's Rust integration tests (see POSTDATE_SDK_NODE in scripts/test).

// Never let the SDK pick its dev-mode keys or region-specific keys from the environment.
for (const name of Object.keys(process.env)) {
  if (name === "QSTASH_DEV" || name === "QSTASH_REGION" || name.endsWith("QSTASH_CURRENT_SIGNING_KEY") || name.endsWith("QSTASH_NEXT_SIGNING_KEY")) {
    delete process.env[name];
  }
}

const { Receiver } = await import("@upstash/qstash");

function fail(message) {
  process.stderr.write(`verify.mjs: ${message}\n`);
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

let input;
try {
  input = JSON.parse(await readStdin());
} catch (error) {
  fail(`stdin is not valid JSON: ${errorMessage(error)}`);
}
if (input === null || typeof input !== "object" || Array.isArray(input)) fail("stdin must be a JSON object");
const { currentSigningKey, nextSigningKey, cases } = input;
if (typeof currentSigningKey !== "string" || typeof nextSigningKey !== "string") {
  fail("currentSigningKey and nextSigningKey must be strings");
}
if (!Array.isArray(cases)) fail("cases must be an array");
cases.forEach((c, i) => {
  if (c === null || typeof c !== "object") fail(`cases[${i}] must be an object`);
  if (typeof c.signature !== "string") fail(`cases[${i}].signature must be a string`);
  if (typeof c.body !== "string") fail(`cases[${i}].body must be a string`);
  if (c.url !== undefined && c.url !== null && typeof c.url !== "string") fail(`cases[${i}].url must be a string or null`);
});

const receiver = new Receiver({ currentSigningKey, nextSigningKey, devMode: false });

const results = [];
for (const c of cases) {
  try {
    await receiver.verify({
      signature: c.signature,
      body: c.body,
      url: c.url ?? undefined,
      clockTolerance: typeof c.clockTolerance === "number" ? c.clockTolerance : undefined,
    });
    results.push({ ok: true });
  } catch (error) {
    results.push({ ok: false, error: errorMessage(error) });
  }
}

process.stdout.write(JSON.stringify(results) + "\n");
