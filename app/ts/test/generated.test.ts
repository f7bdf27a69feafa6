import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { GENERATED_DIR, generate, readIdl } from "../scripts/generate.js";

// The committed src/generated must be exactly what the generator makes of the committed IDL: a
// program change that regenerated idl/microliq.json without `npm run generate` fails here.
test("src/generated is what scripts/generate.ts makes of idl/microliq.json", () => {
  const fresh = generate(readIdl());
  const committed = readdirSync(GENERATED_DIR).filter((name) => name.endsWith(".ts")).sort();
  assert.deepEqual(committed, [...fresh.keys()].sort(), "the generated file list");
  for (const [name, text] of fresh) {
    assert.equal(readFileSync(join(GENERATED_DIR, name), "utf8"), text, `src/generated/${name} is stale: npm run generate`);
  }
});
