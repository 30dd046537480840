//! A run's finished steps as the workflow logs show them (`WorkflowRun.steps`, Upstash's shape): the
//! history entries after the initial payload, each the SDK's step JSON with its message id and state, a
//! lone step as a `sequential` group and the results of one parallel plan together as a `parallel` group.

use serde_json::{Map, Value};

use super::history::HistoryEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Sequential,
    Parallel,
    /// The steps not finished yet (running, retrying, failed or canceled).
    Next,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Sequential => "sequential",
            GroupKind::Parallel => "parallel",
            GroupKind::Next => "next",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepGroup {
    pub kind: GroupKind,
    /// Each a JSON object: the SDK's step fields (`stepId`, `stepName`, `stepType`, `out`, `concurrent`, …)
    /// with `messageId`, `callType`, `state` and `createdAt` (when the step's result was published) added.
    pub steps: Vec<Map<String, Value>>,
}

/// The finished steps of a history, grouped. Parallel plans (steps with a `targetStep`) and the requests of
/// `context.call` (`toCallback`) are not steps of their own; an entry that is not a JSON object is skipped.
/// `out` strings longer than `trim_out` bytes are cut there, when given.
pub fn finished_steps(history: &[HistoryEntry], trim_out: Option<usize>) -> Vec<StepGroup> {
    let mut groups: Vec<StepGroup> = Vec::new();
    let mut open_parallel: Option<(StepGroup, usize)> = None;
    for entry in history.iter().skip(1).filter(|e| e.call_type == "step") {
        let Ok(Value::Object(mut step)) = serde_json::from_slice::<Value>(&entry.body) else {
            continue;
        };
        if step.contains_key("targetStep") {
            continue;
        }
        if let (Some(limit), Some(Value::String(out))) = (trim_out, step.get_mut("out")) {
            cut(out, limit);
        }
        step.insert("messageId".into(), Value::String(entry.message_id.clone()));
        step.entry("callType").or_insert_with(|| Value::String("step".into()));
        step.insert("state".into(), Value::String("STEP_SUCCESS".into()));
        step.insert("createdAt".into(), Value::from(entry.created_at));
        let concurrent = step.get("concurrent").and_then(Value::as_u64).unwrap_or(1) as usize;
        if concurrent <= 1 {
            groups.push(StepGroup {
                kind: GroupKind::Sequential,
                steps: vec![step],
            });
            continue;
        }
        let (mut group, size) = open_parallel.take().unwrap_or((
            StepGroup {
                kind: GroupKind::Parallel,
                steps: Vec::new(),
            },
            concurrent,
        ));
        group.steps.push(step);
        match group.steps.len() >= size {
            true => groups.push(group),
            false => open_parallel = Some((group, size)),
        }
    }
    groups.extend(open_parallel.map(|(group, _)| group));
    groups
}

/// Cuts `text` to at most `limit` bytes, at a character boundary.
fn cut(text: &mut String, limit: usize) {
    if text.len() > limit {
        let end = (0..=limit).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, call_type: &str, body: Value) -> HistoryEntry {
        HistoryEntry {
            message_id: id.into(),
            call_type: call_type.into(),
            body: body.to_string().into_bytes(),
            created_at: 1_000 + id.len() as i64,
        }
    }

    #[test]
    fn lone_steps_are_sequential_and_a_plans_results_are_one_parallel_group() {
        let history = [
            entry("m0", "step", json_str("initial payload")),
            entry(
                "m1",
                "step",
                serde_json::json!({"stepId": 1, "stepName": "a", "out": "\"abcdef\"", "concurrent": 1}),
            ),
            entry(
                "p1",
                "step",
                serde_json::json!({"stepId": 0, "targetStep": 2, "concurrent": 2}),
            ),
            entry(
                "p2",
                "step",
                serde_json::json!({"stepId": 0, "targetStep": 3, "concurrent": 2}),
            ),
            entry(
                "m2",
                "step",
                serde_json::json!({"stepId": 3, "stepName": "c", "concurrent": 2}),
            ),
            entry("c1", "toCallback", serde_json::json!({"url": "http://127.0.0.1:9/"})),
            entry(
                "m3",
                "step",
                serde_json::json!({"stepId": 2, "stepName": "b", "concurrent": 2}),
            ),
            entry("bad", "step", json_str("not a step")),
        ];
        let groups = finished_steps(&history, Some(3));
        let kinds: Vec<_> = groups.iter().map(|g| g.kind).collect();
        assert_eq!(kinds, [GroupKind::Sequential, GroupKind::Parallel]);
        let first = &groups[0].steps[0];
        assert_eq!(first["messageId"], "m1");
        assert_eq!(first["state"], "STEP_SUCCESS");
        assert_eq!(first["createdAt"], 1_002, "when the step's entry was published");
        assert_eq!(first["out"], "\"ab", "out is cut to 3 bytes");
        let parallel: Vec<_> = groups[1].steps.iter().map(|s| s["stepName"].clone()).collect();
        assert_eq!(parallel, ["c", "b"]);
    }

    fn json_str(s: &str) -> Value {
        Value::String(s.into())
    }
}
