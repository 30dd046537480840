//! The runs a workflow DLQ entry starts again (`POST /v2/workflows/dlq/resume|restart`): a new run id under
//! the failed run's settings; a resume keeps the history before the failed step, so the SDK goes on from
//! it, a restart keeps only the initial payload.

use super::{NewRun, Run};
use crate::domain::headers::{canonical_name, HeaderMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// From the failed step: the history before it is kept.
    Resume,
    /// From the start, with the same initial payload.
    Restart,
}

impl Rerun {
    /// The history positions the new run keeps (below this one), for a step that failed at `failed_seq`;
    /// the first message of the new run takes this position.
    pub fn first_seq(self, failed_seq: i64) -> i64 {
        match self {
            Rerun::Resume => failed_seq,
            Rerun::Restart => 0,
        }
    }
}

/// The new run that takes over from `old` as `run_id`, created at `now`.
pub fn rerun_of(old: &Run, run_id: String, now: i64) -> NewRun {
    let mut config = old.config.clone();
    name_run(&mut config.header, &run_id, now);
    if let Some(failure) = config.failure_callback.as_mut() {
        name_run(&mut failure.header, &run_id, now);
    }
    NewRun {
        run_id,
        url: old.url.clone(),
        config,
        labels: old.labels.clone(),
        caller_ip: old.caller_ip.clone(),
        created_at: now,
        invoker: None,
        replaces_start: false,
    }
}

/// The run id and creation time a run's deliveries (and its failure callback) carry.
pub fn name_run(header: &mut HeaderMap, run_id: &str, created_at: i64) {
    let id = canonical_name("Upstash-Workflow-RunId");
    if header.contains_key(&id) {
        header.insert(id, vec![run_id.to_string()]);
    }
    let at = canonical_name("Upstash-Workflow-CreatedAt");
    if header.contains_key(&at) {
        header.insert(at, vec![created_at.to_string()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::callback::Callback;
    use crate::domain::workflow::{RunConfig, RunState};

    #[test]
    fn the_new_run_carries_its_own_id_everywhere_the_old_one_did() {
        let mut header = HeaderMap::new();
        header.insert(canonical_name("Upstash-Workflow-RunId"), vec!["wfr_old".into()]);
        header.insert(canonical_name("Upstash-Workflow-CreatedAt"), vec!["1".into()]);
        header.insert(canonical_name("X-User"), vec!["kept".into()]);
        let failure: Callback = serde_json::from_value(serde_json::json!({
            "url": "http://127.0.0.1:9/failed",
            "header": {"Upstash-Workflow-Runid": ["wfr_old"]}
        }))
        .unwrap();
        let old = Run {
            run_id: "wfr_old".into(),
            url: "http://127.0.0.1:9/wf".into(),
            state: RunState::Failed,
            config: RunConfig {
                header,
                failure_callback: Some(failure),
                ..RunConfig::default()
            },
            labels: vec!["l".into()],
            caller_ip: None,
            result: None,
            created_at: 1,
            updated_at: 2,
            completed_at: Some(2),
            invoker: None,
        };
        let new = rerun_of(&old, "wfr_new".into(), 50);
        let header = &new.config.header;
        assert_eq!(header[&canonical_name("Upstash-Workflow-RunId")], ["wfr_new"]);
        assert_eq!(header[&canonical_name("Upstash-Workflow-CreatedAt")], ["50"]);
        assert_eq!(header[&canonical_name("X-User")], ["kept"]);
        let failure = new.config.failure_callback.unwrap();
        assert_eq!(failure.header[&canonical_name("Upstash-Workflow-RunId")], ["wfr_new"]);
        assert_eq!((new.labels, new.created_at), (vec!["l".to_string()], 50));
        assert_eq!((Rerun::Resume.first_seq(4), Rerun::Restart.first_seq(4)), (4, 0));
    }
}
