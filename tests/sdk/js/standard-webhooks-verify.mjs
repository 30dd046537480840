// Verifies Standard Webhooks signatures with the `standardwebhooks` library (npm, pinned in package.json).
//
// stdin:  {"secret": "whsec_...", "cases": [{"id": "...", "timestamp": "...", "signature": "...", "body": "..."}]}
// stdout: one JSON array, one element per case: {"ok": true} or {"ok": false, "error": "<message>"}
import { Webhook } from "standardwebhooks";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const webhook = new Webhook(input.secret);
const results = input.cases.map((c) => {
  try {
    webhook.verify(c.body, { "webhook-id": c.id, "webhook-timestamp": c.timestamp, "webhook-signature": c.signature });
    return { ok: true };
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
});
process.stdout.write(JSON.stringify(results) + "\n");
