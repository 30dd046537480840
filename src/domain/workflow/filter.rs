//! Which runs a bulk operation on workflow runs names (`DELETE /v2/workflows/runs`): every given field
//! must match (AND), any of a field's values may (OR); no field at all names every run.

use super::Run;
use crate::domain::destination::DestinationUrl;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub run_ids: Vec<String>,
    /// Prefixes of the workflow URL, or whole URLs when `url_exact`.
    pub urls: Vec<String>,
    pub url_exact: bool,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub labels: Vec<String>,
    pub caller_ips: Vec<String>,
    pub flow_control_keys: Vec<String>,
    /// Inclusive bounds on the run's creation, Unix ms.
    pub from_date: Option<i64>,
    pub to_date: Option<i64>,
}

impl RunFilter {
    pub fn matches(&self, run: &Run) -> bool {
        let url_matches = |url: &String| match self.url_exact {
            true => run.url == *url,
            false => run.url.starts_with(url.as_str()),
        };
        let parsed = DestinationUrl::parse(&run.url).ok();
        let host = parsed.as_ref().map(|u| u.host());
        let path = parsed.as_ref().map(|u| u.path());
        any_or_none(&self.run_ids, |id| *id == run.run_id)
            && any_or_none(&self.urls, url_matches)
            && any_or_none(&self.hosts, |h| Some(h.as_str()) == host)
            && any_or_none(&self.paths, |p| Some(p.as_str()) == path)
            && any_or_none(&self.labels, |l| run.labels.contains(l))
            && any_or_none(&self.caller_ips, |ip| run.caller_ip.as_ref() == Some(ip))
            && any_or_none(&self.flow_control_keys, |key| {
                run.config.flow_control_key.as_ref() == Some(key)
            })
            && self.from_date.is_none_or(|from| run.created_at >= from)
            && self.to_date.is_none_or(|to| run.created_at <= to)
    }
}

/// True when no values are given (the field does not narrow), else whether any value matches.
fn any_or_none(values: &[String], matches: impl FnMut(&String) -> bool) -> bool {
    values.is_empty() || values.iter().any(matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflow::{RunConfig, RunState};

    fn run() -> Run {
        Run {
            run_id: "wfr_a".into(),
            url: "http://127.0.0.1:9/api/flow?x=1".into(),
            state: RunState::Started,
            config: RunConfig {
                flow_control_key: Some("k1".into()),
                ..RunConfig::default()
            },
            labels: vec!["red".into(), "blue".into()],
            caller_ip: Some("127.0.0.1".into()),
            result: None,
            created_at: 1_000,
            updated_at: 1_000,
            completed_at: None,
            invoker: None,
        }
    }

    #[test]
    fn no_field_matches_every_run_and_each_field_narrows() {
        let run = run();
        assert!(RunFilter::default().matches(&run));
        let with = |f: fn(&mut RunFilter)| {
            let mut filter = RunFilter::default();
            f(&mut filter);
            filter.matches(&run)
        };
        assert!(with(|f| f.urls = vec!["http://127.0.0.1:9/api".into()]));
        assert!(!with(|f| {
            f.urls = vec!["http://127.0.0.1:9/api".into()];
            f.url_exact = true
        }));
        assert!(with(|f| f.hosts = vec!["nope".into(), "127.0.0.1".into()]));
        assert!(with(|f| f.paths = vec!["/api/flow".into()]));
        assert!(!with(|f| f.paths = vec!["/api".into()]));
        assert!(with(|f| f.labels = vec!["blue".into()]));
        assert!(!with(|f| f.labels = vec!["green".into()]));
        assert!(!with(|f| f.caller_ips = vec!["10.0.0.1".into()]));
        assert!(with(|f| f.flow_control_keys = vec!["k1".into()]));
        assert!(!with(|f| f.flow_control_keys = vec!["k2".into()]));
        assert!(with(|f| f.from_date = Some(1_000)));
        assert!(!with(|f| f.to_date = Some(999)));
        assert!(!with(|f| {
            f.run_ids = vec!["wfr_a".into()];
            f.labels = vec!["green".into()]
        }));
    }
}
