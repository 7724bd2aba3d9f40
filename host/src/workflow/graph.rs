//! Checks of a workflow's flow, made when it loads: loop groups, `when`,
//! `next` and `foreach` expressions (parsed, names and evidence checked
//! against the inputs and the phases' evidence schemas), branch targets,
//! cycles and phases that can never be reached.

use serde_json::Value;

use super::condition;
use super::{Group, Workflow};

/// Where an expression is written, which decides what it may read.
#[derive(Clone, Copy)]
enum Site<'a> {
    /// A phase's `when` (evidence of earlier phases).
    When(usize),
    /// A phase's `next` (its own evidence too).
    Next(usize),
    /// A group's `when` or `foreach` (evidence of phases before the group).
    Group(&'a Group),
}

impl Workflow {
    /// Every problem with the workflow's flow, each starting with the JSON
    /// pointer of where it is.
    pub fn flow_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        self.group_problems(&mut problems);
        for (i, phase) in self.phases.iter().enumerate() {
            let at = self.pointer(i);
            if let Some(when) = &phase.when {
                self.expression_problems(when, Site::When(i), &format!("{at}/when"), &mut problems);
            }
            for (b, branch) in phase.next.iter().enumerate() {
                if let Some(when) = &branch.when {
                    self.expression_problems(
                        when,
                        Site::Next(i),
                        &format!("{at}/next/{b}/when"),
                        &mut problems,
                    );
                }
                if let Err(problem) = self.target(i, &branch.goto) {
                    problems.push(format!("{at}/next/{b}/goto: {problem}"));
                }
            }
            if let Some((last, _)) = phase
                .next
                .iter()
                .enumerate()
                .find(|(_, b)| b.when.is_none())
                && last + 1 < phase.next.len()
            {
                problems.push(format!(
                    "{at}/next/{}: never considered: branch {last} has no `when`, so it is always taken",
                    last + 1
                ));
            }
        }
        if problems.is_empty() {
            self.reachability_problems(&mut problems);
        }
        problems
    }

    fn group_problems(&self, problems: &mut Vec<String>) {
        for (g, group) in self.groups.iter().enumerate() {
            let at = self.group_pointer(group);
            if self.phase(&group.id).is_some() || self.groups[..g].iter().any(|o| o.id == group.id)
            {
                problems.push(format!(
                    "{at}/id: `{}` is already the id of a phase or group; ids must be unique",
                    group.id
                ));
            }
            match (&group.foreach, group.repeat) {
                (Some(_), true) => problems.push(format!(
                    "{at}: a group loops either `foreach` or `repeat`, not both"
                )),
                (None, false) => problems.push(format!(
                    "{at}: a group needs `foreach: <list expression>` or `repeat: true`"
                )),
                (None, true) if group.max_iterations.is_none() => problems.push(format!(
                    "{at}: a `repeat` group needs `max_iterations`, so it cannot run forever"
                )),
                _ => {}
            }
            if group.max_iterations == Some(0) {
                problems.push(format!("{at}/max_iterations: must be at least 1"));
            }
            if group.start == group.end {
                problems.push(format!("{at}/phases: a group needs at least one phase"));
            }
            if let Some(when) = &group.when {
                self.expression_problems(when, Site::Group(group), &format!("{at}/when"), problems);
            }
            if let Some(foreach) = &group.foreach {
                self.expression_problems(
                    foreach,
                    Site::Group(group),
                    &format!("{at}/foreach"),
                    problems,
                );
            }
            if group.repeat {
                let last = &self.phases[group.end.saturating_sub(1).max(group.start)];
                if last.checkpoint.is_none() {
                    problems.push(format!(
                        "{}: the last phase of a `repeat` group needs a checkpoint: its result decides whether the group runs again",
                        self.pointer(group.end.saturating_sub(1))
                    ));
                }
            }
        }
    }

    /// Problems of one expression: syntax, unknown names, evidence of
    /// phases that cannot have passed yet, fields their schemas lack.
    fn expression_problems(
        &self,
        source: &str,
        site: Site<'_>,
        at: &str,
        problems: &mut Vec<String>,
    ) {
        let program = match condition::parse(source) {
            Ok(program) => program,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                return;
            }
        };
        let (index, group) = match site {
            Site::When(i) | Site::Next(i) => (i, self.group_of(i)),
            Site::Group(group) => (group.start, None),
        };
        let uses = condition::uses(&program);
        for name in &uses.names {
            let allowed = match name.as_str() {
                "inputs" | "evidence" => true,
                "item" => group.is_some_and(|g| g.foreach.is_some()),
                "iteration" => group.is_some(),
                _ => false,
            };
            if !allowed {
                let why = match name.as_str() {
                    "item" => "`item` exists only inside a `foreach` group".to_owned(),
                    "iteration" => "`iteration` exists only inside a loop group".to_owned(),
                    _ => format!(
                        "`{name}` is not a name here; expressions read {}",
                        condition::NAMES.join(", ")
                    ),
                };
                problems.push(format!("{at}: {why}"));
            }
        }
        for (root, key) in condition::shallow(&program) {
            if root == "inputs" && !self.inputs.contains_key(&key) {
                problems.push(format!(
                    "{at}: reads `inputs.{key}`, but the workflow declares no input `{key}`"
                ));
            }
            if root == "evidence"
                && let Err(problem) = self.readable(&key, None, site, index, group)
            {
                problems.push(format!("{at}: {problem}"));
            }
        }
        for (phase, field) in &uses.evidence {
            if let Err(problem) = self.readable(phase, field.as_deref(), site, index, group) {
                problems.push(format!("{at}: {problem}"));
            }
        }
        problems.dedup();
    }

    /// Whether an expression at phase `index` may read `evidence.<key>`
    /// (and its `field`).
    fn readable(
        &self,
        key: &str,
        field: Option<&str>,
        site: Site<'_>,
        index: usize,
        group: Option<&Group>,
    ) -> Result<(), String> {
        if let Some(other) = self.group(key) {
            return if other.end <= index && field.is_none() {
                Ok(())
            } else if other.end <= index {
                Err(format!(
                    "`evidence.{key}` is a list (one entry per iteration of group `{key}`); index it, e.g. `evidence.{key}[0]`, or use a macro such as `.exists(i, ...)`"
                ))
            } else {
                Err(format!(
                    "reads `evidence.{key}`, but group `{key}` does not come before this"
                ))
            };
        }
        let Some(j) = self.index_of(key) else {
            return Err(format!(
                "reads `evidence.{key}`, but the workflow has no phase or group `{key}`"
            ));
        };
        let earlier = match site {
            Site::Next(_) => j <= index,
            _ => j < index,
        };
        if !earlier {
            return Err(format!(
                "reads `evidence.{key}`, but phase `{key}` does not come before this; only evidence of earlier phases exists"
            ));
        }
        if let Some(theirs) = self.group_of(j)
            && group.is_none_or(|g| g.id != theirs.id)
        {
            return Err(format!(
                "reads `evidence.{key}`, but phase `{key}` runs once per iteration of group `{}`; outside it, read `evidence.{}` (a list, one entry per iteration)",
                theirs.id, theirs.id
            ));
        }
        let Some(field) = field else {
            return Ok(());
        };
        let schema = self.phases[j]
            .checkpoint
            .as_ref()
            .and_then(|c| c.evidence_schema.as_ref());
        match schema {
            None => Err(format!(
                "reads `evidence.{key}.{field}`, but phase `{key}` records no evidence (its checkpoint has no evidence_schema)"
            )),
            Some(schema) => match schema.get("properties").and_then(Value::as_object) {
                Some(properties) if !properties.contains_key(field) => Err(format!(
                    "reads `evidence.{key}.{field}`, but the evidence_schema of phase `{key}` has no property `{field}` (it has: {})",
                    properties.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
                _ => Ok(()),
            },
        }
    }

    /// The phase index a branch of phase `from` goes to.
    pub fn target(&self, from: usize, goto: &str) -> Result<usize, String> {
        let here = self.group_of(from);
        let (index, group_target) = match (self.index_of(goto), self.group(goto)) {
            (Some(i), _) => (i, None),
            (None, Some(g)) => (g.start, Some(g)),
            (None, None) => {
                return Err(format!("`{goto}` is not a phase or group of this workflow"));
            }
        };
        if index <= from {
            return Err(format!(
                "`{goto}` does not come after `{}`: a branch may only go forward, so that a workflow cannot cycle; to run phases again, put them in a group with `repeat`",
                self.phases[from].id
            ));
        }
        let there = group_target.or_else(|| self.group_of(index));
        match (here, there) {
            (Some(a), Some(b)) if a.id == b.id && group_target.is_none() => Ok(index),
            (Some(a), _) => Err(format!(
                "`{}` is in group `{}`, so its branches may only go to later phases of that group",
                self.phases[from].id, a.id
            )),
            (None, Some(b)) if group_target.is_none() => Err(format!(
                "`{goto}` is inside group `{}`; go to the group itself (`goto: {}`)",
                b.id, b.id
            )),
            _ => Ok(index),
        }
    }

    /// Phases no path from the first phase reaches.
    fn reachability_problems(&self, problems: &mut Vec<String>) {
        let n = self.phases.len();
        let mut seen = vec![false; n + 1];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if i >= n || seen[i] {
                if i >= n {
                    seen[n] = true;
                }
                continue;
            }
            seen[i] = true;
            let phase = &self.phases[i];
            let group = self.group_of(i);
            // Entering a group that may be skipped (condition, empty list).
            if let Some(g) = self.groups.iter().find(|g| g.start == i)
                && (g.when.is_some() || g.foreach.is_some())
            {
                stack.push(g.end);
            }
            let after = match group {
                Some(g) if i + 1 == g.end => g.end,
                _ => i + 1,
            };
            let always_branches = phase.next.iter().any(|b| b.when.is_none());
            if !always_branches || phase.when.is_some() {
                stack.push(after);
            }
            for branch in &phase.next {
                if let Ok(t) = self.target(i, &branch.goto) {
                    stack.push(t);
                }
            }
        }
        for (i, phase) in self.phases.iter().enumerate() {
            if !seen[i] {
                problems.push(format!(
                    "{}: phase `{}` can never be reached: every way to it is taken by a branch that always applies",
                    self.pointer(i),
                    phase.id
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Error;

    fn problems(phases: &str) -> Vec<String> {
        let text = format!(
            "id: w\nversion: 0.1.0\nname: W\ndescription: d\ninputs:\n  mode:\n    description: m\n    default: a\nphases:\n{phases}"
        );
        match crate::workflow::parse(&text, "w.yaml") {
            Ok(_) => Vec::new(),
            Err(Error::InvalidWorkflow { problems, .. }) => problems,
            Err(other) => panic!("{other}"),
        }
    }

    const PLAN: &str = "  - id: plan\n    name: P\n    guidance: g\n    checkpoint:\n      evidence_schema: {type: object, properties: {tasks: {type: array}, api: {type: boolean}}}\n";

    #[test]
    fn accepts_conditions_branches_and_loops() {
        let p = problems(&format!(
            "{PLAN}    next:\n      - when: evidence.plan.api\n        goto: docs\n  - id: tasks\n    foreach: evidence.plan.tasks\n    max_iterations: 10\n    phases:\n      - id: build\n        name: B\n        guidance: '{{{{item.name}}}}'\n        when: item.name != '' && iteration > 0\n  - id: review\n    repeat: true\n    max_iterations: 3\n    phases:\n      - id: check\n        name: C\n        guidance: g\n        checkpoint: {{}}\n  - id: migrate\n    name: M\n    guidance: g\n    when: inputs.mode == 'b' && size(evidence.tasks) > 0\n  - id: docs\n    name: D\n    guidance: g\n"
        ));
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn refuses_bad_expressions_and_references() {
        let p = problems(&format!(
            "{PLAN}  - id: a\n    name: A\n    guidance: g\n    when: 'evidence.plan.nope && nope && item.x && inputs.missing == \"\" && evidence.later.x'\n  - id: later\n    name: L\n    guidance: g\n  - id: b\n    name: B\n    guidance: g\n    when: 'inputs.mode =='\n"
        ));
        let all = p.join("\n");
        for needle in [
            "/phases/1/when: reads `evidence.plan.nope`, but the evidence_schema of phase `plan` has no property `nope`",
            "`nope` is not a name here",
            "`item` exists only inside a `foreach` group",
            "declares no input `missing`",
            "phase `later` does not come before this",
            "/phases/3/when: `inputs.mode ==` is not a valid CEL expression",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn refuses_unknown_targets_cycles_and_unreachable_phases() {
        let p = problems(&format!(
            "{PLAN}    next:\n      - when: evidence.plan.api\n        goto: nowhere\n  - id: a\n    name: A\n    guidance: g\n    next:\n      - goto: plan\n"
        ));
        let all = p.join("\n");
        assert!(
            all.contains("/phases/0/next/0/goto: `nowhere` is not a phase or group"),
            "{all}"
        );
        assert!(all.contains("/phases/1/next/0/goto: `plan` does not come after `a`: a branch may only go forward"), "{all}");

        let p = problems(&format!(
            "{PLAN}    next:\n      - goto: c\n  - id: b\n    name: B\n    guidance: g\n  - id: c\n    name: C\n    guidance: g\n"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("/phases/1: phase `b` can never be reached"),
            "{p:?}"
        );

        let p = problems(
            "  - id: loop\n    repeat: true\n    phases:\n      - id: x\n        name: X\n        guidance: g\n",
        );
        let all = p.join("\n");
        assert!(all.contains("needs `max_iterations`"), "{all}");
        assert!(
            all.contains(
                "/phases/0/phases/0: the last phase of a `repeat` group needs a checkpoint"
            ),
            "{all}"
        );

        let p = problems(&format!(
            "{PLAN}  - id: g\n    foreach: evidence.plan.tasks\n    phases:\n      - id: x\n        name: X\n        guidance: g\n        next:\n          - goto: after\n  - id: after\n    name: A\n    guidance: '{{{{evidence.x.y}}}}'\n    when: evidence.x.y\n"
        ));
        let all = p.join("\n");
        assert!(
            all.contains("/phases/1/phases/0/next/0/goto: `x` is in group `g`"),
            "{all}"
        );
        assert!(
            all.contains("runs once per iteration of group `g`"),
            "{all}"
        );
    }
}
