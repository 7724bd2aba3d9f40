import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

import { TestWorkspace } from "@checkrail/rule-sdk/testing";

import rule from "../src/rule.ts";

const workspaces: TestWorkspace[] = [];
function workspace(packageJson?: string): TestWorkspace {
  const ws = TestWorkspace.create();
  workspaces.push(ws);
  if (packageJson !== undefined) ws.write("package.json", packageJson);
  return ws;
}
after(() => workspaces.forEach((ws) => ws.remove()));

const GOOD = `{
  "name": "app",
  "version": "1.0.0",
  "license": "MIT",
  "engines": { "node": ">=20" }
}
`;

describe("package-fields", () => {
  it("passes a package.json with every required field and an allowed license", async () => {
    const outcome = await workspace(GOOD).run(rule, { license_allowed: ["MIT", "Apache-2.0"], require_engines: true });
    assert.equal(outcome.passed, true, JSON.stringify(outcome.findings));
    assert.deepEqual(outcome.findings, []);
    assert.equal(outcome.summary, "`package.json` has `name`, `version`, `license`");
  });

  it("points a missing field at the object and an empty one at its line", async () => {
    const ws = workspace(`{\n  "name": "app",\n  "version": ""\n}\n`);
    const outcome = await ws.run(rule, { required: ["name", "version", "license"] });
    assert.equal(outcome.passed, false);
    assert.equal(outcome.summary, "2 errors");
    const [empty, missing] = outcome.findings;
    assert.deepEqual(
      { ...empty },
      {
        severity: "error",
        message: "`version` in `package.json` is empty",
        path: "package.json",
        line: 3,
        column: 3,
        fixHint: 'give `"version"` a value',
        code: "empty-field",
      },
    );
    assert.equal(missing?.code, "missing-field");
    assert.equal(missing?.message, "`package.json` has no `license` field");
    assert.deepEqual([missing?.line, missing?.column], [1, 1]);
  });

  it("refuses a license outside the allowed list, at the license's line", async () => {
    const ws = workspace(`{\n  "name": "app",\n  "version": "1.0.0",\n\n  "license": "(MIT OR GPL-3.0)"\n}\n`);
    const outcome = await ws.run(rule, { license_allowed: ["MIT", "Apache-2.0"] });
    assert.equal(outcome.passed, false);
    assert.equal(outcome.findings.length, 1);
    const [f] = outcome.findings;
    assert.equal(f?.code, "license-not-allowed");
    assert.equal(f?.line, 5);
    assert.match(f?.message ?? "", /`GPL-3\.0`/);
    assert.match(f?.fixHint ?? "", /`MIT`, `Apache-2\.0`/);
  });

  it("asks for engines only when configured", async () => {
    const pkg = `{ "name": "a", "version": "1.0.0", "license": "MIT" }`;
    assert.equal((await workspace(pkg).run(rule, {})).passed, true);
    const outcome = await workspace(pkg).run(rule, { require_engines: true });
    assert.deepEqual(
      outcome.findings.map((f) => f.code),
      ["missing-engines"],
    );
    const empty = await workspace(`{ "name": "a", "version": "1.0.0", "license": "MIT",\n "engines": {} }`).run(rule, {
      require_engines: true,
    });
    assert.equal(empty.findings[0]?.line, 2);
  });

  it("reports a missing file and invalid JSON with where to fix them", async () => {
    const missing = await workspace().run(rule, {});
    assert.equal(missing.passed, false);
    assert.equal(missing.findings[0]?.code, "missing-file");
    assert.match(missing.findings[0]?.fixHint ?? "", /npm init -y/);

    const broken = await workspace(`{\n  "name": "app",\n  "version" "1.0.0"\n}`).run(rule, {});
    assert.equal(broken.findings[0]?.code, "invalid-json");
    assert.deepEqual([broken.findings[0]?.line, broken.findings[0]?.column], [3, 13]);
  });

  it("reads a package.json elsewhere but never outside the workspace", async () => {
    const ws = workspace();
    ws.write("web/package.json", GOOD);
    assert.equal((await ws.run(rule, { path: "web/package.json" })).passed, true);
    const outside = await ws.run(rule, { path: "../package.json" });
    assert.equal(outside.passed, false);
    assert.equal(outside.findings[0]?.code, "unreadable-file");
    assert.match(outside.findings[0]?.message ?? "", /outside the workspace/);
  });

  it("caches on the package.json it reads", () => {
    const ws = workspace();
    assert.deepEqual(ws.inputs(rule, {}), ["package.json"]);
    assert.deepEqual(ws.inputs(rule, { path: "web/package.json" }), ["web/package.json"]);
  });

  it("rejects a config the host would reject", async () => {
    await assert.rejects(workspace(GOOD).run(rule, { required: "name" }), /config\.required must be array/);
    await assert.rejects(workspace(GOOD).run(rule, { licence: [] }), /unknown field `licence`/);
  });
});
