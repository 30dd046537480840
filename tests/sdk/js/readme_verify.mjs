// Runs the README's `verify-upstash.mjs` (section "Verifying a delivery without an SDK") exactly as it stands
// there, with jose, on the cases of verify.mjs: same stdin and stdout.
import { readFileSync } from "node:fs";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
const block = readme.match(/```js\n(\/\/ verify-upstash\.mjs[\s\S]*?)```/);
if (!block) {
  process.stderr.write("readme_verify.mjs: README.md has no verify-upstash.mjs block\n");
  process.exit(2);
}
// A data: module resolves no packages: point its `jose` import at the installed one.
const source = block[1].replace('from "jose"', `from ${JSON.stringify(import.meta.resolve("jose"))}`);
const { verify } = await import("data:text/javascript," + encodeURIComponent(source));

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const keys = [input.currentSigningKey, input.nextSigningKey];
const results = [];
for (const c of input.cases) {
  try {
    await verify(c.signature, c.body, keys, c.url ?? undefined);
    results.push({ ok: true });
  } catch (error) {
    results.push({ ok: false, error: String(error && error.message ? error.message : error) });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
