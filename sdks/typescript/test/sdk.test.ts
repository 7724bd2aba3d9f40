import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";

import { Outcome, PathError, codes, defineRule, error, parseJson, tool, warning } from "../src/index.ts";
import { TestWorkspace } from "../src/testing.ts";

const workspaces: TestWorkspace[] = [];
function workspace(): TestWorkspace {
  const ws = TestWorkspace.create();
  workspaces.push(ws);
  return ws;
}
after(() => workspaces.forEach((ws) => ws.remove()));

/** A rule that runs `node` with the args in its config, through the tool layer. */
const runsNode = defineRule<{ args: string[]; timeoutMs?: number }>({
  id: "runs-node",
  version: "0.1.0",
  description: "Runs node.",
  configSchema: { type: "object", properties: { args: { type: "array", items: { type: "string" } } } },
  capabilities: ["exec:node"],
  check(config, cx) {
    const run = new tool.Tool("node").run(cx, { program: "node", args: config.args, timeoutMs: config.timeoutMs });
    if (!run.ok) return run.outcome;
    return Outcome.fromFindings(run.ran.problems()).withFacts({ stdout: run.ran.output.stdout.trim() });
  },
});

describe("exec", () => {
  it("refuses a program the workspace has not granted, with the line to add", async () => {
    const outcome = await workspace().run(runsNode, { args: ["-e", ""] });
    assert.equal(outcome.passed, false);
    assert.equal(outcome.summary, "`node` did not run: it is not granted in checkrail.toml");
    const [f] = outcome.findings;
    assert.equal(f?.code, codes.EXEC_NOT_GRANTED);
    assert.match(f?.fixHint ?? "", /^add `"node"` to `allow` under `\[exec\]`/);
  });

  it("refuses a program the rule did not declare, even when granted", async () => {
    const sneaky = defineRule<Record<string, never>>({
      id: "sneaky",
      version: "0.1.0",
      description: "Runs sh without declaring it.",
      configSchema: { type: "object" },
      check: (_config, cx) => {
        const run = new tool.Tool("sh").run(cx, { program: "sh", args: ["-c", "true"] });
        return run.ok ? Outcome.pass("ran") : run.outcome;
      },
    });
    const outcome = await workspace().run(sneaky, {}, { grant: ["sh"] });
    assert.equal(outcome.findings[0]?.code, codes.EXEC_NOT_DECLARED);
    assert.match(outcome.findings[0]?.message ?? "", /does not declare the capability `exec:sh`/);
  });

  it("runs a granted program in the workspace with a scrubbed environment", async () => {
    process.env.CHECKRAIL_TS_SECRET = "leak";
    const ws = workspace();
    ws.write("marker.txt", "here");
    const script = "const fs=require('fs');console.log(fs.readFileSync('marker.txt','utf8')+':'+(process.env.CHECKRAIL_TS_SECRET??'none'))";
    const outcome = await ws.run(runsNode, { args: ["-e", script] }, { grant: ["node"] });
    assert.equal(outcome.passed, true, JSON.stringify(outcome.findings));
    assert.deepEqual(outcome.factsValue(), { stdout: "here:none" });
  });

  it("turns a failure, a timeout and cut output into findings", async () => {
    const failed = await workspace().run(runsNode, { args: ["-e", "console.error('Error: boom'); process.exit(3)"] }, { grant: ["node"] });
    assert.equal(failed.findings[0]?.code, codes.TOOL_FAILED);
    assert.match(failed.findings[0]?.message ?? "", /failed \(exit code 3\).*Error: boom/s);

    const slow = await workspace().run(runsNode, { args: ["-e", "setTimeout(()=>{}, 10000)"], timeoutMs: 300 }, { grant: ["node"] });
    assert.equal(slow.findings[0]?.code, codes.TIMEOUT);

    const ws = workspace();
    const policy = { rule: "runs-node", declared: ["node"], granted: ["node"], maxOutputBytes: 100 };
    const loud = await ws.run(runsNode, { args: ["-e", "console.log('x'.repeat(1000))"] }, { policy });
    assert.deepEqual(
      loud.findings.map((f) => [f.code, f.severity]),
      [[codes.OUTPUT_TRUNCATED, "warning"]],
    );
  });
});

describe("workspace", () => {
  const reader = defineRule<{ path: string }>({
    id: "reader",
    version: "0.1.0",
    description: "Reads a file.",
    configSchema: { type: "object", required: ["path"] },
    check(config, cx) {
      try {
        return Outcome.pass(cx.workspace.readText(config.path));
      } catch (e) {
        if (e instanceof PathError) return Outcome.fromFindings([error(e.message, { code: e.kind })]);
        throw e;
      }
    },
  });

  it("reads inside the workspace and refuses what leads out, symlinks included", async () => {
    const ws = workspace();
    ws.write("a/b.txt", "hello");
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "checkrail-outside-"));
    fs.writeFileSync(path.join(outside, "secret"), "s3cret");
    fs.symlinkSync(path.join(outside, "secret"), path.join(ws.root, "link"));
    try {
      assert.equal((await ws.run(reader, { path: "a/./b.txt" })).summary, "hello");
      for (const p of ["../x", "/etc/passwd", "link"]) {
        const outcome = await ws.run(reader, { path: p });
        assert.equal(outcome.findings[0]?.code, "outside-workspace", p);
      }
      assert.equal((await ws.run(reader, { path: "nope" })).findings[0]?.code, "not-found");
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it("stats many paths and globs, sorted and limited", () => {
    const ws = workspace();
    ws.write("src/a.ts", "x").write("src/deep/b.ts", "yy").write("README.md", "");
    const cx = ws.context(reader);
    const [file, dir, missing] = cx.workspace.statMany(["src/deep/b.ts", "src", "none"]);
    assert.deepEqual(file, { kind: "file", size: 2, isSymlink: false });
    assert.equal((dir as { kind: string }).kind, "directory");
    assert.ok(missing instanceof PathError && missing.kind === "not-found");
    assert.deepEqual(cx.workspace.glob("src/**/*.ts"), ["src/a.ts", "src/deep/b.ts"]);
    assert.deepEqual(cx.workspace.glob("**/*.{md,ts}", 2), ["README.md", "src/a.ts"]);
  });
});

describe("outcomes, facts and baselines", () => {
  it("summarizes findings and passes on warnings alone", () => {
    assert.equal(Outcome.fromFindings([warning("nit")]).passed, true);
    const failed = Outcome.fromFindings([error("a"), error("b"), warning("c")]);
    assert.deepEqual([failed.passed, failed.summary], [false, "2 errors, 1 warning"]);
    assert.equal(Outcome.pass("ok").withFinding(error("late")).passed, false);
  });

  it("hands a rule its earlier facts by phase", async () => {
    const remembers = defineRule<Record<string, never>>({
      id: "remembers",
      version: "0.1.0",
      description: "Compares with red.",
      configSchema: { type: "object" },
      check: (_config, cx) => Outcome.pass(JSON.stringify(cx.baseline("red") ?? null)).withFacts({ phase: cx.phase }),
    });
    const outcome = await workspace().run(remembers, {}, {
      workflow: "bugfix",
      phase: "green",
      baselines: [
        { phase: "red", facts: { failing: ["a"] } },
        { phase: "red", facts: { failing: ["b"] } },
      ],
    });
    assert.equal(outcome.summary, '{"failing":["b"]}');
    assert.deepEqual(outcome.factsValue(), { phase: "green" });
  });
});

describe("parseJson", () => {
  it("locates members and reports syntax errors where they are", () => {
    const doc = parseJson('{\n  "a": [1,\n    {"b": true}],\n  "c": "\\"x"\n}');
    assert.deepEqual(doc.locate(["a"]), { line: 2, column: 3 });
    assert.deepEqual(doc.locate(["a", 1, "b"]), { line: 3, column: 6 });
    assert.deepEqual(doc.locate(["c"]), { line: 4, column: 3 });
    assert.equal(doc.locate(["z"]), undefined);
    assert.deepEqual(doc.value, { a: [1, { b: true }], c: '"x' });
    assert.throws(() => parseJson('{\n "a": tru\n}'), /line 2, column 7/);
  });
});
