//! What a session has recorded, as the current phase sees it: its loop
//! item, the evidence, facts, baselines, snapshots and artifacts of the
//! phases before it, and the scope its expressions are evaluated in.

use serde_json::{Map, Value, json};

use super::super::model::Session;
use super::{occurrence, parse_occurrence};
use crate::workflow::Workflow;

impl Session {
    /// The item of the current iteration of the loop group phase `index`
    /// belongs to.
    pub fn item(&self, workflow: &Workflow, index: usize) -> Option<&Value> {
        let group = workflow.group_of(index)?;
        let run = self.loops.get(&group.id)?;
        run.items.as_ref()?.get(self.iteration? as usize - 1)
    }

    /// Evidence as phase `index` sees it: by phase id for phases outside
    /// loops and for the phases of its own loop in the current iteration;
    /// a loop group's id holds one object per iteration (phase id →
    /// evidence).
    pub fn evidence_view(&self, workflow: &Workflow, index: usize) -> Map<String, Value> {
        let own = workflow.group_of(index).map(|g| g.id.clone());
        let mut view = Map::new();
        for (key, value) in &self.evidence {
            let (phase, n) = parse_occurrence(key);
            let group = workflow.index_of(phase).and_then(|j| workflow.group_of(j));
            match (group, n) {
                (None, _) => {
                    view.insert(key.clone(), value.clone());
                }
                (Some(g), Some(n)) => {
                    if own.as_deref() == Some(g.id.as_str()) && Some(n) == self.iteration {
                        view.insert(phase.to_owned(), value.clone());
                    }
                }
                (Some(_), None) => {}
            }
        }
        for (id, run) in &self.loops {
            let Some(group) = workflow.group(id) else {
                continue;
            };
            let iterations: Vec<Value> = (1..=run.iteration)
                .map(|n| {
                    Value::Object(
                        workflow.phases[group.range()]
                            .iter()
                            .filter_map(|p| {
                                let value = self.evidence.get(&occurrence(&p.id, Some(n)))?;
                                Some((p.id.clone(), value.clone()))
                            })
                            .collect(),
                    )
                })
                .collect();
            view.insert(id.clone(), Value::Array(iterations));
        }
        view
    }

    /// What expressions at phase `index` read; `own` includes the phase's
    /// own evidence (for its `next` branches).
    pub fn scope(&self, workflow: &Workflow, index: usize, own: bool) -> Map<String, Value> {
        let mut evidence = self.evidence_view(workflow, index);
        if !own && let Some(phase) = workflow.phases.get(index) {
            evidence.remove(&phase.id);
        }
        let mut scope = Map::new();
        scope.insert("inputs".to_owned(), Value::Object(self.inputs.clone()));
        scope.insert("evidence".to_owned(), Value::Object(evidence));
        if workflow.group_of(index).is_some() {
            if let Some(item) = self.item(workflow, index) {
                scope.insert("item".to_owned(), item.clone());
            }
            scope.insert("iteration".to_owned(), json!(self.iteration.unwrap_or(1)));
        }
        scope
    }

    /// Facts the rules of phase `index` compare against: those recorded at
    /// phases before it in the workflow, by phase id (inside its loop, the
    /// current iteration's; of other loops, their last iteration's).
    pub fn baselines_view(&self, workflow: &Workflow, index: usize) -> Map<String, Value> {
        self.records_view(&self.facts, workflow, index)
            .into_iter()
            .filter(|(phase, _)| workflow.index_of(phase).is_some_and(|j| j < index))
            .collect()
    }

    /// The artifacts recorded when phase `since` passed, as phase `index`
    /// sees them.
    pub fn artifacts_view(&self, workflow: &Workflow, index: usize, since: &str) -> Option<&Value> {
        self.artifacts
            .get(&self.occurrence_seen(workflow, index, since)?)
    }

    /// The frozen-file snapshot recorded when phase `since` passed, as
    /// phase `index` sees it.
    pub fn snapshot_view(&self, workflow: &Workflow, index: usize, since: &str) -> Option<&Value> {
        self.snapshots
            .get(&self.occurrence_seen(workflow, index, since)?)
    }

    /// The occurrence of phase `since` that phase `index` refers to: inside
    /// its own loop, the current iteration's; in another loop, that loop's
    /// last iteration's.
    fn occurrence_seen(&self, workflow: &Workflow, index: usize, since: &str) -> Option<String> {
        let j = workflow.index_of(since)?;
        Some(match workflow.group_of(j) {
            None => since.to_owned(),
            Some(g) if workflow.group_of(index).is_some_and(|h| h.id == g.id) => {
                occurrence(since, self.iteration)
            }
            Some(g) => occurrence(since, self.loops.get(&g.id).map(|l| l.iteration)),
        })
    }

    fn records_view(
        &self,
        records: &Map<String, Value>,
        workflow: &Workflow,
        index: usize,
    ) -> Map<String, Value> {
        let own = workflow.group_of(index).map(|g| g.id.clone());
        records
            .iter()
            .filter_map(|(key, value)| {
                let (phase, n) = parse_occurrence(key);
                let group = workflow.index_of(phase).and_then(|j| workflow.group_of(j));
                let wanted = match group {
                    None => true,
                    Some(g) if own.as_deref() == Some(g.id.as_str()) => n == self.iteration,
                    Some(g) => n == self.loops.get(&g.id).map(|l| l.iteration),
                };
                wanted.then(|| (phase.to_owned(), value.clone()))
            })
            .collect()
    }
}
