//! The filters and pages of the run endpoints' queries.

use super::super::error::ApiError;
use super::super::request::{Query, MAX_FILTER_VALUES};
use super::valid_run_id;
use crate::domain::workflow::filter::RunFilter;

/// The query keys of the run filters (`run_filter` reads them).
pub const RUN_FILTER_KEYS: &[&str] = &[
    "workflowUrl",
    "workflowUrlExactMatch",
    "host",
    "path",
    "label",
    "callerIp",
    "callerIP",
    "flowControlKey",
    "fromDate",
    "toDate",
];

/// The run filters of a query: `workflowRunIds` (or the logs' single `workflowRunId`), `workflowUrl` (a
/// prefix, or the whole URL with `workflowUrlExactMatch=true`), `host`, `path`, `label`, `callerIp`,
/// `flowControlKey`, `fromDate`, `toDate`; takes `workflowUrlExactMatch` out of the query.
pub fn run_filter(query: &mut Query) -> Result<RunFilter, ApiError> {
    let url_exact = query.take_flag("workflowUrlExactMatch")?.unwrap_or(false);
    let mut run_ids = query.list("workflowRunIds");
    run_ids.extend(query.list("workflowRunId"));
    let mut caller_ips = query.list("callerIp");
    caller_ips.extend(query.list("callerIP"));
    let filter = RunFilter {
        run_ids,
        urls: query.all("workflowUrl"),
        url_exact,
        hosts: query.list("host"),
        paths: query.all("path"),
        labels: query.list("label"),
        caller_ips,
        flow_control_keys: query.list("flowControlKey"),
        from_date: query.int("fromDate")?,
        to_date: query.int("toDate")?,
    };
    if url_exact && filter.urls.is_empty() {
        return Err(ApiError::BadRequest(
            "workflowUrlExactMatch needs a workflowUrl to match".into(),
        ));
    }
    let named = [
        &filter.run_ids,
        &filter.urls,
        &filter.hosts,
        &filter.paths,
        &filter.labels,
        &filter.caller_ips,
        &filter.flow_control_keys,
    ]
    .iter()
    .map(|values| values.len())
    .sum::<usize>();
    if named > MAX_FILTER_VALUES {
        return Err(ApiError::BadRequest(format!(
            "a filter may name at most {MAX_FILTER_VALUES} values, got {named}"
        )));
    }
    filter.run_ids.iter().try_for_each(|id| valid_run_id(id))?;
    Ok(filter)
}
