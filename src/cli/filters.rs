//! Filter flags shared by `messages ls`, `messages cancel`, `dlq ls`, `dlq retry` and `logs`, turned into
//! the query parameters of spec §4.3, §9.1 and §10.1 (repeated flags are OR, different flags AND).

use clap::Args;

use crate::domain::duration::parse_duration;

/// Filters every listing of messages, DLQ entries and logs accepts.
#[derive(Args, Clone, Default)]
pub struct Filters {
    /// Only this destination URL (repeatable).
    #[arg(long)]
    pub url: Vec<String>,
    /// Only messages published to this URL group (repeatable).
    #[arg(long = "group", value_name = "NAME")]
    pub topic_name: Vec<String>,
    /// Only messages of this queue (repeatable).
    #[arg(long = "queue", value_name = "NAME")]
    pub queue_name: Vec<String>,
    /// Only messages created by this schedule (repeatable).
    #[arg(long = "schedule", value_name = "ID")]
    pub schedule_id: Vec<String>,
    /// Only messages with this label (repeatable).
    #[arg(long)]
    pub label: Vec<String>,
    /// Only messages under this flow-control key (repeatable).
    #[arg(long, value_name = "KEY")]
    pub flow_control_key: Vec<String>,
    /// Only messages published from this IP address (repeatable).
    #[arg(long, value_name = "IP")]
    pub caller_ip: Vec<String>,
    /// Only from this time on: RFC 3339 (2026-01-01T00:00:00Z), Unix milliseconds, or a duration ago (2h).
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    pub from: Option<i64>,
    /// Only up to this time (same forms as --from).
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    pub to: Option<i64>,
}

/// Host and path filters, which messages and logs accept (the DLQ does not).
#[derive(Args, Clone, Default)]
pub struct UrlPartFilters {
    /// Only destinations on this host (repeatable).
    #[arg(long)]
    pub host: Vec<String>,
    /// Only destinations with this path (repeatable).
    #[arg(long)]
    pub path: Vec<String>,
}

/// Which page of a listing: its size, where it starts, and which end comes first.
#[derive(Args, Clone)]
pub struct Paging {
    /// Entries per page (at most 100 in the DLQ, 1000 for messages).
    #[arg(long, default_value_t = 100)]
    pub count: u32,
    /// The page after this cursor (printed at the end of the previous page).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Which end comes first.
    #[arg(long, value_enum, default_value = "earliest")]
    pub order: Order,
}

/// Which end of a listing comes first.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Order {
    Earliest,
    Latest,
}

impl Order {
    pub fn wire(self) -> &'static str {
        match self {
            Order::Earliest => "earliestFirst",
            Order::Latest => "latestFirst",
        }
    }
}

/// Query pairs under construction.
#[derive(Default)]
pub struct Query {
    pub pairs: Vec<(String, String)>,
}

impl Query {
    pub fn add(&mut self, key: &str, value: impl ToString) -> &mut Query {
        self.pairs.push((key.to_string(), value.to_string()));
        self
    }

    pub fn add_all(&mut self, key: &str, values: &[String]) -> &mut Query {
        for value in values {
            self.add(key, value);
        }
        self
    }

    pub fn add_opt(&mut self, key: &str, value: Option<impl ToString>) -> &mut Query {
        if let Some(value) = value {
            self.add(key, value);
        }
        self
    }

    pub fn filters(&mut self, filters: &Filters) -> &mut Query {
        self.add_all("url", &filters.url)
            .add_all("topicName", &filters.topic_name)
            .add_all("queueName", &filters.queue_name)
            .add_all("scheduleId", &filters.schedule_id)
            .add_all("label", &filters.label)
            .add_all("flowControlKey", &filters.flow_control_key)
            .add_all("callerIp", &filters.caller_ip)
            .add_opt("fromDate", filters.from)
            .add_opt("toDate", filters.to)
    }

    pub fn paging(&mut self, paging: &Paging) -> &mut Query {
        self.add("count", paging.count)
            .add("order", paging.order.wire())
            .add_opt("cursor", paging.cursor.as_ref())
    }

    pub fn url_parts(&mut self, parts: &UrlPartFilters) -> &mut Query {
        self.add_all("host", &parts.host).add_all("path", &parts.path)
    }

    /// True when no filter at all was given (an empty selection must be asked for with `--all`).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// RFC 3339, Unix milliseconds, or a duration before now, as Unix milliseconds.
pub fn time_arg(input: &str) -> Result<i64, String> {
    time_at(input, super::render::now_ms())
}

fn time_at(input: &str, now: i64) -> Result<i64, String> {
    let input = input.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(input) {
        return Ok(at.timestamp_millis());
    }
    if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit()) {
        return input.parse().map_err(|_| format!("{input:?} is too large"));
    }
    match parse_duration(input) {
        Ok(ago) => Ok(now - ago.as_millis() as i64),
        Err(_) => Err(format!(
            "{input:?} is not a time: use RFC 3339 (2026-01-01T00:00:00Z), Unix milliseconds, or a duration ago (2h)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn times_are_rfc3339_unix_milliseconds_or_a_duration_ago() {
        assert_eq!(time_at("2026-01-01T00:00:00Z", NOW), Ok(NOW));
        assert_eq!(time_at("2026-01-01T01:00:00+01:00", NOW), Ok(NOW));
        assert_eq!(time_at("1767225600000", NOW), Ok(NOW));
        assert_eq!(time_at("2h", NOW), Ok(NOW - 2 * 3_600_000));
        assert!(time_at("yesterday", NOW).unwrap_err().contains("RFC 3339"));
        assert!(time_at("", NOW).is_err());
    }

    #[test]
    fn repeated_filters_become_repeated_query_keys() {
        let filters = Filters {
            label: vec!["a".into(), "b".into()],
            from: Some(5),
            ..Filters::default()
        };
        let mut query = Query::default();
        query.filters(&filters);
        let pairs: Vec<(&str, &str)> = query.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("label", "a"), ("label", "b"), ("fromDate", "5")]);
    }
}
