#!/usr/bin/env node
// @ts-check
/**
 * `checkrail-rule`: tests and builds a TypeScript rule package.
 *
 *   checkrail-rule test [paths...]   bundle test/**\/*.test.ts and run them with `node --test`
 *   checkrail-rule build [--entry src/rule.ts] [--out <id>.wasm]
 *                                    bundle the rule, componentize it against the
 *                                    `checkrail:rule@0.2.0` world, stamp its API version
 *
 * It runs in the rule's package directory and uses that package's own
 * `esbuild` and `@bytecodealliance/componentize-js` (its dev dependencies,
 * pinned there), so this SDK has no dependencies of its own. Plain
 * JavaScript, type-checked through JSDoc, because Node runs it as is.
 */

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SDK_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** The custom section the host reads the API version stamp from (`checkrail_sdk::API_VERSION_SECTION`). */
const API_VERSION_SECTION = "checkrail:api-version";
const API_VERSION = JSON.parse(fs.readFileSync(path.join(SDK_DIR, "package.json"), "utf8")).checkrail.apiVersion;
const WORLD = "rule-js";
/** The WASI packages the world and its includes need, from jco's copy of the WASI 0.2 WIT. */
const WASI_PACKAGES = ["wasi-io", "wasi-clocks", "wasi-filesystem"];
const WASI_VERSION = "0.2.12";
const WORK = ".checkrail-rule";

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`checkrail-rule: failed to ${message}`);
  process.exit(1);
}

/**
 * The directory of package `name` as seen from `from` (walking up its
 * `node_modules`), whatever its `exports` allow.
 * @param {string} name @param {string} from
 */
function packageDir(name, from) {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (path.dirname(dir) === dir) {
      return fail(`find \`${name}\` from ${from}; add it to the rule's devDependencies and run \`npm install\``);
    }
  }
}

/**
 * The rule package's esbuild (typed loosely: its types live in that package).
 * @returns {Promise<{ build: (options: Record<string, unknown>) => Promise<unknown> }>}
 */
async function esbuild() {
  const require = createRequire(path.join(process.cwd(), "package.json"));
  return require(packageDir("esbuild", process.cwd()));
}

/** @param {string} dir @returns {string[]} */
function testFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  if (fs.statSync(dir).isFile()) return [dir];
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.test\.(ts|mts|js|mjs)$/.test(f))
    .map((f) => path.join(dir, f))
    .sort();
}

/** The deepest directory holding every one of `files`. @param {string[]} files */
function commonDir(files) {
  const split = files.map((f) => path.dirname(path.resolve(f)).split(path.sep));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length && split.every((parts) => parts[n] === first[n])) n++;
  return first.slice(0, n).join(path.sep) || path.sep;
}

/** @param {string[]} args */
async function test(args) {
  const inputs = (args.length > 0 ? args : ["test"]).flatMap(testFiles);
  if (inputs.length === 0) fail("find tests: no `*.test.ts` under " + (args.join(", ") || "test/"));
  const outdir = path.join(WORK, "test");
  fs.rmSync(outdir, { recursive: true, force: true });
  const { build } = await esbuild();
  await build({
    entryPoints: inputs,
    outdir,
    outbase: commonDir(inputs),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  const outputs = testFiles(outdir);
  const run = spawnSync(process.execPath, ["--enable-source-maps", "--test", ...outputs], { stdio: "inherit" });
  process.exit(run.status ?? 1);
}

/** @param {number} n */
function leb128(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * `component` with a custom section `name` holding `data` appended: custom
 * sections may sit anywhere in a component, and the host looks for the
 * stamp in all of them.
 * @param {Uint8Array} component @param {string} name @param {string} data
 */
export function withCustomSection(component, name, data) {
  const nameBytes = new TextEncoder().encode(name);
  const body = [...leb128(nameBytes.length), ...nameBytes, ...new TextEncoder().encode(data)];
  const section = Uint8Array.from([0, ...leb128(body.length), ...body]);
  const out = new Uint8Array(component.length + section.length);
  out.set(component, 0);
  out.set(section, component.length);
  return out;
}

/** Lays out the WIT the rule is componentized against in `dir`. @param {string} dir */
function assembleWit(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "deps"), { recursive: true });
  fs.copyFileSync(path.join(SDK_DIR, "wit", "world.wit"), path.join(dir, "world.wit"));
  // `wit/checkrail-rule` links to the one copy of the WIT, under plugin-sdk/.
  fs.cpSync(path.join(SDK_DIR, "wit", "checkrail-rule"), path.join(dir, "deps", "checkrail-rule"), {
    recursive: true,
    dereference: true,
  });
  const jco = packageDir("@bytecodealliance/jco", packageDir("@bytecodealliance/componentize-js", process.cwd()));
  for (const pkg of WASI_PACKAGES) {
    const from = path.join(jco, "lib", "wit", "builtin", WASI_VERSION, pkg);
    if (!fs.existsSync(from)) fail(`find the WASI ${WASI_VERSION} WIT \`${pkg}\` in ${jco}`);
    fs.cpSync(from, path.join(dir, "deps", pkg), { recursive: true });
  }
}

/** @param {string[]} args */
async function buildComponent(args) {
  /** @param {string} flag @param {string} fallback @returns {string} */
  const option = (flag, fallback) => {
    const at = args.indexOf(flag);
    return (at >= 0 ? args[at + 1] : undefined) ?? fallback;
  };
  const entry = path.resolve(option("--entry", "src/rule.ts"));
  if (!fs.existsSync(entry)) fail(`find the rule module ${entry}`);
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const { build } = await esbuild();
  fs.mkdirSync(WORK, { recursive: true });
  const started = Date.now();

  // The rule's metadata, natively: to name the component and check the version.
  const describePath = path.resolve(WORK, "describe.mjs");
  await build({
    entryPoints: [entry],
    outfile: describePath,
    bundle: true,
    platform: "node",
    format: "esm",
    logLevel: "warning",
  });
  const rule = (await import(pathToFileURL(describePath).href + `?t=${Date.now()}`)).default;
  if (rule === undefined || typeof rule.id !== "string") {
    fail(`read the rule from ${entry}: its default export must be \`defineRule({...})\``);
  }
  if (pkg.version !== undefined && rule.version !== pkg.version) {
    fail(`build rule \`${rule.id}\`: its version ${rule.version} differs from package.json's ${pkg.version}`);
  }
  const out = path.resolve(option("--out", `${rule.id}.wasm`));
  if (path.basename(out, ".wasm").replaceAll("_", "-") !== rule.id) {
    fail(`build rule \`${rule.id}\` into ${out}: checkrail names a component after its file, so call it ${rule.id}.wasm`);
  }

  const source = path.resolve(WORK, "entry.ts");
  fs.writeFileSync(
    source,
    `import rule from ${JSON.stringify(entry)};\n` +
      `import { exportRule } from "@checkrail/rule-sdk/component";\n` +
      `export const { describe, inputs, check } = exportRule(rule);\n`,
  );
  const bundle = path.resolve(WORK, "rule.bundle.js");
  await build({
    entryPoints: [source],
    outfile: bundle,
    bundle: true,
    platform: "neutral",
    format: "esm",
    target: "es2022",
    mainFields: ["module", "main"],
    external: ["checkrail:*", "wasi:*"],
    logLevel: "warning",
  });
  const bundled = Date.now();

  const wit = path.resolve(WORK, "wit");
  assembleWit(wit);
  const cjsDir = packageDir("@bytecodealliance/componentize-js", process.cwd());
  const cjsPkg = JSON.parse(fs.readFileSync(path.join(cjsDir, "package.json"), "utf8"));
  /** @type {{ componentize: (options: Record<string, unknown>) => Promise<{ component: Uint8Array }> }} */
  const { componentize } = await import(pathToFileURL(path.join(cjsDir, cjsPkg.exports.import)).href);
  const { component } = await componentize({
    sourcePath: bundle,
    witPath: wit,
    worldName: WORLD,
    // No outgoing HTTP and no incoming handler: the host links neither.
    disableFeatures: ["http", "fetch-event"],
  });
  const stamped = withCustomSection(component, API_VERSION_SECTION, API_VERSION);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, stamped);
  const done = Date.now();
  console.error(
    `checkrail-rule: built ${path.relative(process.cwd(), out)} (rule ${rule.id} ${rule.version}, API ${API_VERSION}, ` +
      `${(stamped.length / (1 << 20)).toFixed(1)} MiB) in ${((done - started) / 1000).toFixed(1)}s ` +
      `(bundle ${((bundled - started) / 1000).toFixed(1)}s, componentize ${((done - bundled) / 1000).toFixed(1)}s)`,
  );
}

const [command, ...rest] = process.argv.slice(2);
if (command === "test") await test(rest);
else if (command === "build") await buildComponent(rest);
else {
  console.error("usage: checkrail-rule test [paths...] | checkrail-rule build [--entry src/rule.ts] [--out <id>.wasm]");
  process.exit(2);
}
