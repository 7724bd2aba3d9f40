//! `toolchain: tsc`: type errors at their file, line and column; a missing
//! or broken tsconfig said so.

use super::*;

const TS_PACKAGE: &str = "{\"name\":\"demo\",\"version\":\"1.0.0\",\"private\":true}\n";
const TSCONFIG: &str = "{\"compilerOptions\":{\"strict\":true,\"target\":\"ES2022\",\"noEmit\":true},\"include\":[\"src\"]}\n";

#[test]
fn tsc_type_errors_at_their_file_line_and_column_then_green() {
    require(
        "tsc",
        "TypeScript 5 (`npm install --prefix ~/.cache/checkrail/node-tools typescript@5`, as scripts/test.sh does, with its node_modules/.bin on PATH)",
    );
    let ws = TestWorkspace::new().unwrap();
    ws.write("web/package.json", TS_PACKAGE).unwrap();
    ws.write("web/tsconfig.json", TSCONFIG).unwrap();
    ws.write(
        "web/src/calc.ts",
        "export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport const f: (a: number) => void = (a: string) => {};\nexport const bad = add(1, \"2\");\n",
    )
    .unwrap();
    let config = json!({"toolchain": "auto", "cwd": "web"});
    let out = ws
        .run_granting::<Compile>(config.clone(), &["tsc"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert!(
        by_code(&out, "detected").message.contains(
            "toolchain: auto → tsc (found web/package.json and tsconfig.json, a TypeScript project)"
        ),
        "{out:#?}"
    );
    let chain = by_code(&out, "TS2322");
    assert_eq!(
        (chain.path.as_deref(), chain.line, chain.column),
        (Some("web/src/calc.ts"), Some(5), Some(14))
    );
    assert!(
        chain
            .message
            .ends_with("Type 'number' is not assignable to type 'string'."),
        "the chain of reasons is kept: {chain:?}"
    );
    assert_eq!(
        chain.fix_hint.as_deref(),
        Some("fix the error at web/src/calc.ts:5:14 and type-check again")
    );
    let argument = by_code(&out, "TS2345");
    assert_eq!((argument.line, argument.column), (Some(6), Some(27)));
    assert_eq!(out.summary, "2 errors in tsc --noEmit");

    ws.write(
        "web/src/calc.ts",
        "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
    )
    .unwrap();
    let out = ws.run_granting::<Compile>(config, &["tsc"]).unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["detected"]);
    // tsc reads what tsconfig includes, the package and the settings.
    let inputs = inputs_of::<Compile>(json!({"toolchain": "tsc", "cwd": "web"}));
    assert!(inputs.contains(&"web/**/*.ts".to_owned()), "{inputs:?}");
    assert!(
        inputs.contains(&"web/**/tsconfig*.json".to_owned()),
        "{inputs:?}"
    );
}

#[test]
fn tsc_without_a_tsconfig_says_so_and_a_broken_one_is_placed() {
    require(
        "tsc",
        "TypeScript 5 (`npm install --prefix ~/.cache/checkrail/node-tools typescript@5`, with its node_modules/.bin on PATH)",
    );
    let ws = TestWorkspace::new().unwrap();
    ws.write("package.json", TS_PACKAGE).unwrap();
    ws.write("src/a.ts", "export const a: number = 1;\n")
        .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "tsc"}), &["tsc"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["no-tsconfig"]);
    // Files on the command line need no tsconfig.
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "tsc", "args": ["--strict", "src/a.ts"]}),
            &["tsc"],
        )
        .unwrap();
    assert!(out.passed, "{out:#?}");
    // A tsconfig.json that does not parse is reported at its line.
    ws.write(
        "tsconfig.json",
        "{\"compilerOptions\": {\"strict\": true,, }}\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "tsc"}), &["tsc"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let broken = out
        .findings
        .iter()
        .find(|f| f.path.as_deref() == Some("tsconfig.json"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(broken.line, Some(1));
    assert!(broken.code.as_deref().is_some_and(|c| c.starts_with("TS")));
}
