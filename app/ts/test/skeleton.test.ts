import test from "node:test";
import assert from "node:assert/strict";
import * as sdk from "../src/index.js";

test("the package index loads", () => {
  assert.equal(typeof sdk, "object");
});
