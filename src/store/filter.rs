//! Builds the WHERE clause of bulk operations from a [`Filter`], for either database.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::model::Filter;

/// The database-specific spelling of "`haystack` contains `needle`": `strpos` in Postgres, `instr` in SQLite.
pub(crate) struct Dialect {
    pub contains_fn: &'static str,
}

/// Appends ` and …` conditions for every non-empty field. Message columns are read from alias `m`, DLQ
/// columns from alias `d`; `date_column` is the time the date bounds apply to.
pub(crate) fn push_filter<'a, DB>(qb: &mut QueryBuilder<'a, DB>, filter: &Filter, date_column: &str, dialect: &Dialect)
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    i32: Encode<'a, DB> + Type<DB>,
{
    let text_fields: [(&str, &Vec<String>); 10] = [
        ("m.id", &filter.message_ids),
        ("d.dlq_id", &filter.dlq_ids),
        ("m.url", &filter.url),
        ("m.url_host", &filter.host),
        ("m.url_path", &filter.path),
        ("m.topic_name", &filter.topic_name),
        ("m.queue_name", &filter.queue_name),
        ("m.schedule_id", &filter.schedule_id),
        ("m.caller_ip", &filter.caller_ip),
        ("m.flow_control_key", &filter.flow_control_key),
    ];
    for (column, values) in text_fields.iter().filter(|(_, v)| !v.is_empty()) {
        push_in(qb, column, values.iter().cloned());
    }
    if !filter.response_status.is_empty() {
        push_in(qb, "d.response_status", filter.response_status.iter().copied());
    }
    if !filter.label.is_empty() {
        qb.push(" and ");
        let needles: Vec<String> = filter.label.iter().map(|label| format!(",{label},")).collect();
        push_any_contains(qb, "coalesce(m.labels, '')", &needles, dialect);
    }
    if filter.workflow_only {
        qb.push(" and m.workflow is not null");
    }
    if !filter.workflow_run_id.is_empty() {
        // The link is JSON with the run id quoted, and run ids hold no quote: a substring match is exact.
        qb.push(" and ");
        let needles: Vec<String> = filter
            .workflow_run_id
            .iter()
            .map(|id| format!("\"runId\":\"{id}\""))
            .collect();
        push_any_contains(qb, "coalesce(m.workflow, '')", &needles, dialect);
    }
    if let Some(from) = filter.from_date {
        qb.push(format!(" and {date_column} >= ")).push_bind(from);
    }
    if let Some(to) = filter.to_date {
        qb.push(format!(" and {date_column} <= ")).push_bind(to);
    }
}

/// "`haystack` contains any of `needles`", joined by `or` as a balanced tree: a flat chain of a thousand
/// `or`s nests a thousand deep, past SQLite's expression depth limit of 1,000, while a balanced one nests
/// only about ten deep.
fn push_any_contains<'a, DB>(qb: &mut QueryBuilder<'a, DB>, haystack: &str, needles: &[String], dialect: &Dialect)
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
{
    if let [needle] = needles {
        qb.push(format!("{}({haystack}, ", dialect.contains_fn));
        qb.push_bind(needle.clone());
        qb.push(") > 0");
        return;
    }
    let (left, right) = needles.split_at(needles.len() / 2);
    qb.push("(");
    push_any_contains(qb, haystack, left, dialect);
    qb.push(" or ");
    push_any_contains(qb, haystack, right, dialect);
    qb.push(")");
}

fn push_in<'a, DB, T>(qb: &mut QueryBuilder<'a, DB>, column: &str, values: impl Iterator<Item = T>)
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
{
    qb.push(format!(" and {column} in ("));
    let mut separated = qb.separated(", ");
    for value in values {
        separated.push_bind(value);
    }
    separated.push_unseparated(")");
}
