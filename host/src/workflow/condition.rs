//! Expressions in workflows (`when:`, `next[].when`, `foreach:`), written in
//! CEL and evaluated with the `cel` crate over one scope:
//!
//! - `inputs`: the values the session was started with;
//! - `evidence`: what passed phases recorded, by phase id (inside a loop,
//!   its phases' evidence of the current iteration; a finished loop's group
//!   id holds a list with one object per iteration, phase id → evidence);
//! - `item` and `iteration` (1-based) inside a loop group.
//!
//! Phase ids with `-` are reached by index: `evidence["fix-test"].name`.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use serde_json::{Map, Value};

/// Names an expression may use at the top level.
pub const NAMES: [&str; 4] = ["inputs", "evidence", "item", "iteration"];

/// What an expression refers to, as far as can be told without running it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uses {
    /// Top-level identifiers that are not bound inside the expression.
    pub names: Vec<String>,
    /// `evidence.<phase>.<field>` (or the index forms): the phase and the
    /// field read from its evidence.
    pub evidence: Vec<(String, Option<String>)>,
}

/// Most steps an expression may take, as [`cost`] estimates them.
pub const MAX_COST: u64 = 10_000_000;
/// The length assumed for a list whose length cannot be told before it
/// runs (one from the inputs or the evidence, which the evidence size
/// limit bounds).
const UNKNOWN_LENGTH: u64 = 1_000;

/// Parses an expression and refuses one that could run too long; the
/// error says where it breaks, or what it would cost.
pub fn parse(source: &str) -> Result<cel::Program, String> {
    let program = cel::Program::compile(source).map_err(|e| {
        let text = e.to_string();
        format!(
            "`{source}` is not a valid CEL expression: {}",
            text.lines().next().unwrap_or("syntax error")
        )
    })?;
    let steps = cost(program.expression());
    if steps > MAX_COST {
        return Err(format!(
            "`{source}` could take about {steps} steps to evaluate, over the limit of {MAX_COST}: each comprehension (`all`, `exists`, `map`, `filter`) runs its body once per element, so nested ones multiply (a list from the inputs or evidence counts as {UNKNOWN_LENGTH} elements); nest fewer"
        ));
    }
    Ok(program)
}

/// An upper estimate of the steps `expr` takes: one per node, and a
/// comprehension's condition and step once per element of its range.
/// Saturates rather than overflows.
pub fn cost(expr: &IdedExpr) -> u64 {
    cost_with(expr, UNKNOWN_LENGTH)
}

/// [`cost`] with lists of untold length taken as `unknown` elements long.
fn cost_with(expr: &IdedExpr, unknown: u64) -> u64 {
    let cost = |e: &IdedExpr| cost_with(e, unknown);
    let sum = |exprs: &mut dyn Iterator<Item = &IdedExpr>| {
        exprs.fold(1u64, |total, e| total.saturating_add(cost(e)))
    };
    match &expr.expr {
        Expr::Comprehension(comp) => {
            let per_element = 1u64
                .saturating_add(cost(&comp.loop_cond))
                .saturating_add(cost(&comp.loop_step));
            length(&comp.iter_range, unknown)
                .saturating_mul(per_element)
                .saturating_add(cost(&comp.iter_range))
                .saturating_add(cost(&comp.accu_init))
                .saturating_add(cost(&comp.result))
        }
        Expr::Call(call) => sum(&mut call.target.iter().map(|t| &**t).chain(&call.args)),
        Expr::List(list) => sum(&mut list.elements.iter()),
        Expr::Map(map) => sum(&mut map.entries.iter().flat_map(entry_values)),
        Expr::Struct(st) => sum(&mut st.entries.iter().flat_map(entry_values)),
        Expr::Select(select) => 1u64.saturating_add(cost(&select.operand)),
        _ => 1,
    }
}

/// The expressions of a map or struct entry.
fn entry_values(entry: &cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::StructField(field) => vec![&field.value],
        EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
    }
}

/// How many elements a comprehension's range has: a literal's own, that of
/// the range a `map` or `filter` came from, else [`UNKNOWN_LENGTH`].
fn length(range: &IdedExpr, unknown: u64) -> u64 {
    match &range.expr {
        Expr::List(list) => list.elements.len() as u64,
        Expr::Map(map) => map.entries.len() as u64,
        Expr::Comprehension(comp) => length(&comp.iter_range, unknown),
        _ => unknown,
    }
}

/// The most elements of any list or map in `value`, nested ones included.
fn longest(value: &Value) -> u64 {
    match value {
        Value::Array(items) => {
            (items.len() as u64).max(items.iter().map(longest).max().unwrap_or(0))
        }
        Value::Object(fields) => {
            (fields.len() as u64).max(fields.values().map(longest).max().unwrap_or(0))
        }
        _ => 0,
    }
}

/// What a parsed expression uses.
pub fn uses(program: &cel::Program) -> Uses {
    let mut uses = Uses::default();
    walk(program.expression(), &mut Vec::new(), &mut uses);
    uses.names.sort();
    uses.names.dedup();
    uses
}

fn walk(expr: &IdedExpr, bound: &mut Vec<String>, uses: &mut Uses) {
    if let Some((root, key, field)) = member(expr) {
        match root.as_str() {
            "evidence" if !bound.contains(&root) => uses.evidence.push((key, field)),
            _ => {}
        }
    }
    match &expr.expr {
        Expr::Ident(name) if !name.starts_with('@') && !bound.contains(name) => {
            uses.names.push(name.clone());
        }
        Expr::Ident(_) => {}
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                walk(target, bound, uses);
            }
            for arg in &call.args {
                walk(arg, bound, uses);
            }
        }
        Expr::Comprehension(comp) => {
            walk(&comp.iter_range, bound, uses);
            walk(&comp.accu_init, bound, uses);
            let before = bound.len();
            bound.push(comp.iter_var.clone());
            bound.extend(comp.iter_var2.clone());
            bound.push(comp.accu_var.clone());
            walk(&comp.loop_cond, bound, uses);
            walk(&comp.loop_step, bound, uses);
            walk(&comp.result, bound, uses);
            bound.truncate(before);
        }
        Expr::List(list) => {
            for element in &list.elements {
                walk(element, bound, uses);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => walk(&field.value, bound, uses),
                    EntryExpr::MapEntry(entry) => {
                        walk(&entry.key, bound, uses);
                        walk(&entry.value, bound, uses);
                    }
                }
            }
        }
        Expr::Select(select) => walk(&select.operand, bound, uses),
        Expr::Struct(st) => {
            for entry in &st.entries {
                if let EntryExpr::StructField(field) = &entry.expr {
                    walk(&field.value, bound, uses);
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
        #[expect(unreachable_patterns, reason = "the AST may grow kinds")]
        _ => {}
    }
}

/// `root.key` or `root["key"]`, with the field read from it next, when
/// `expr` is `root.key.field`, `root.key` or their index forms.
fn member(expr: &IdedExpr) -> Option<(String, String, Option<String>)> {
    // root.key.field
    if let Some((inner, field)) = step(expr)
        && let Some((root, key)) = step(inner)
        && let Expr::Ident(root) = &root.expr
    {
        return Some((root.clone(), key, Some(field)));
    }
    None
}

/// `operand.field` or `operand["field"]` → (operand, field).
fn step(expr: &IdedExpr) -> Option<(&IdedExpr, String)> {
    match &expr.expr {
        Expr::Select(select) => Some((&select.operand, select.field.clone())),
        Expr::Call(call) if call.func_name == "_[_]" && call.args.len() == 2 => {
            match &call.args[1].expr {
                Expr::Literal(LiteralValue::String(key)) => {
                    Some((&call.args[0], key.inner().to_owned()))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Top-level references `root.key` that [`member`] misses because nothing
/// is read from them (`has(evidence.plan)`, `evidence.plan == null`).
pub fn shallow(program: &cel::Program) -> Vec<(String, String)> {
    let mut found = Vec::new();
    shallow_walk(program.expression(), &mut found);
    found
}

fn shallow_walk(expr: &IdedExpr, found: &mut Vec<(String, String)>) {
    if let Some((inner, key)) = step(expr)
        && let Expr::Ident(root) = &inner.expr
    {
        found.push((root.clone(), key));
    }
    match &expr.expr {
        Expr::Call(call) => {
            call.target.iter().for_each(|t| shallow_walk(t, found));
            call.args.iter().for_each(|a| shallow_walk(a, found));
        }
        Expr::Comprehension(comp) => {
            for e in [
                &comp.iter_range,
                &comp.accu_init,
                &comp.loop_cond,
                &comp.loop_step,
                &comp.result,
            ] {
                shallow_walk(e, found);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(|e| shallow_walk(e, found)),
        Expr::Select(select) => shallow_walk(&select.operand, found),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(entry) = &entry.expr {
                    shallow_walk(&entry.key, found);
                    shallow_walk(&entry.value, found);
                }
            }
        }
        _ => {}
    }
}

/// The value of an expression in `scope` (a JSON object whose keys are the
/// top-level names), as JSON.
pub fn evaluate(source: &str, scope: &Map<String, Value>) -> Result<Value, String> {
    let program = parse(source)?;
    // The estimate at parse time takes untold lists as 1,000 long; here
    // they are told: an expression that would walk the longest list in
    // its scope too often is refused before it runs.
    let longest = scope.values().map(longest).max().unwrap_or(0);
    if longest > UNKNOWN_LENGTH {
        let steps = cost_with(program.expression(), longest);
        if steps > MAX_COST {
            return Err(format!(
                "`{source}` would take about {steps} steps over a list of {longest} elements, over the limit of {MAX_COST}; it was not evaluated"
            ));
        }
    }
    let mut context = cel::Context::default();
    for (name, value) in scope {
        let value = cel::to_value(value)
            .map_err(|e| format!("`{name}` cannot be given to `{source}`: {e}"))?;
        context.add_variable_from_value(name.clone(), value);
    }
    let value = program
        .execute(&context)
        .map_err(|e| format!("`{source}` could not be evaluated: {e}"))?;
    value
        .json()
        .map_err(|e| format!("`{source}` yields a value that is not JSON: {e}"))
}

/// A condition's answer; anything but a boolean is an error.
pub fn holds(source: &str, scope: &Map<String, Value>) -> Result<bool, String> {
    match evaluate(source, scope)? {
        Value::Bool(answer) => Ok(answer),
        other => Err(format!(
            "`{source}` must yield true or false, but yields {}",
            clip(&other)
        )),
    }
}

/// A `foreach` list; anything but a list is an error.
pub fn items(source: &str, scope: &Map<String, Value>) -> Result<Vec<Value>, String> {
    match evaluate(source, scope)? {
        Value::Array(items) => Ok(items),
        other => Err(format!(
            "`{source}` must yield a list to loop over, but yields {}",
            clip(&other)
        )),
    }
}

fn clip(value: &Value) -> String {
    crate::error::clip(&value.to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_long_list_in_the_evidence_is_counted_before_the_expression_runs() {
        let pairs = "evidence.plan.tasks.all(a, evidence.plan.tasks.exists(b, a == b))";
        // Two comprehensions over an untold list: fine at parse time.
        assert!(parse(pairs).is_ok());
        let tasks =
            |n: usize| scope(json!({"evidence": {"plan": {"tasks": (0..n).collect::<Vec<_>>()}}}));
        assert_eq!(holds(pairs, &tasks(100)), Ok(true));
        // 20,000 elements: 400 million steps, refused without running.
        let started = std::time::Instant::now();
        let refused = holds(pairs, &tasks(20_000)).unwrap_err();
        assert!(
            refused.contains("over a list of 20000 elements"),
            "{refused}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn nested_comprehensions_are_refused_before_they_run() {
        // Three comprehensions deep over the evidence: a billion steps.
        let deep = "evidence.plan.tasks.all(a, evidence.plan.tasks.all(b, evidence.plan.tasks.all(c, a == b && b == c)))";
        let refused = parse(deep).err().unwrap_or_default();
        assert!(
            refused.contains("steps to evaluate, over the limit") && refused.contains("nest fewer"),
            "{refused}"
        );
        // Over literal lists, the same: ten deep over ten elements.
        let digits = "[0,1,2,3,4,5,6,7,8,9]";
        let mut literal = "true".to_owned();
        for var in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            literal = format!("{digits}.all({var}, {literal})");
        }
        assert!(parse(&literal).is_err());
        // What workflows write stays well under it.
        for fine in [
            "evidence.plan.tasks.all(t, t.name != '')",
            "evidence.plan.tasks.exists(t, t.done) && inputs.kind == 'api'",
            "evidence.plan.tasks.map(t, t.name).filter(n, n.startsWith('a')).size() > 0",
        ] {
            let program = parse(fine).unwrap_or_else(|e| panic!("{e}"));
            assert!(cost(program.expression()) < MAX_COST / 100, "{fine}");
        }
        // And the refusal holds where expressions are evaluated too.
        let s = scope(json!({"evidence": {"plan": {"tasks": [1, 2, 3]}}}));
        assert!(holds(deep, &s).is_err());
    }

    #[test]
    fn evaluates_over_inputs_evidence_and_items() {
        let s = scope(json!({
            "inputs": {"schema_changed": "yes"},
            "evidence": {"plan": {"tasks": [{"name": "a"}, {"name": "b"}]}, "fix-test": {"n": 2}},
            "item": {"name": "a"},
            "iteration": 1,
        }));
        assert!(holds("inputs.schema_changed == 'yes'", &s).unwrap());
        assert!(holds("evidence['fix-test'].n > 1 && item.name == 'a'", &s).unwrap());
        assert!(!holds("has(evidence.migrate)", &s).unwrap());
        assert_eq!(
            items("evidence.plan.tasks", &s).unwrap(),
            vec![json!({"name": "a"}), json!({"name": "b"})]
        );
        assert_eq!(
            items("evidence.plan.tasks.map(t, t.name)", &s).unwrap(),
            vec![json!("a"), json!("b")]
        );
        assert!(holds("iteration == 1", &s).unwrap());
    }

    #[test]
    fn refuses_what_is_not_a_condition_or_list() {
        let s = scope(json!({"inputs": {"x": "1"}, "evidence": {}}));
        let e = holds("inputs.x", &s).unwrap_err();
        assert!(e.contains("must yield true or false"), "{e}");
        let e = items("inputs.x", &s).unwrap_err();
        assert!(e.contains("must yield a list"), "{e}");
        let e = holds("evidence.plan.done", &s).unwrap_err();
        assert!(e.contains("could not be evaluated"), "{e}");
        let e = parse("inputs.x ==").unwrap_err();
        assert!(e.contains("not a valid CEL expression"), "{e}");
    }

    #[test]
    fn tells_what_an_expression_uses() {
        let program =
            parse("evidence.plan.tasks.all(t, t.done) && inputs['mode'] == 'x' && size(nope) > 0 && evidence['fix-test'].name != ''")
                .unwrap();
        let u = uses(&program);
        assert_eq!(u.names, ["evidence", "inputs", "nope"]);
        assert!(
            u.evidence
                .contains(&("plan".to_owned(), Some("tasks".to_owned())))
        );
        assert!(
            u.evidence
                .contains(&("fix-test".to_owned(), Some("name".to_owned())))
        );
        let program = parse("has(evidence.migrate) && inputs.mode == 'x'").unwrap();
        let found = shallow(&program);
        assert!(
            found.contains(&("evidence".to_owned(), "migrate".to_owned())),
            "{found:?}"
        );
        assert!(
            found.contains(&("inputs".to_owned(), "mode".to_owned())),
            "{found:?}"
        );
    }
}
