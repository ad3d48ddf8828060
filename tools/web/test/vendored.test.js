// The browser tests' copy of axe-core (tests/browser/vendor/axe-core) is the pinned npm package's
// file, byte for byte: the version in package.json is what the tests run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const TOOLS = join(HERE, "..");
const VENDOR = join(TOOLS, "..", "..", "tests", "browser", "vendor", "axe-core");

test("the vendored axe-core is the pinned package", () => {
  const pinned = JSON.parse(readFileSync(join(TOOLS, "package.json"), "utf8")).devDependencies["axe-core"];
  assert.match(readFileSync(join(VENDOR, "README.md"), "utf8"), new RegExp(`axe-core ${pinned.replaceAll(".", "\\.")} `));
  const installed = join(TOOLS, "node_modules", "axe-core");
  assert.ok(existsSync(installed), "npm ci has not run in tools/web");
  assert.equal(JSON.parse(readFileSync(join(installed, "package.json"), "utf8")).version, pinned);
  assert.ok(readFileSync(join(installed, "axe.min.js")).equals(readFileSync(join(VENDOR, "axe.min.js"))));
  assert.ok(readFileSync(join(installed, "LICENSE")).equals(readFileSync(join(VENDOR, "LICENSE"))));
});
