//! `postdate publish`: one message to a URL, a URL group or a queue (spec §3.1, §3.2), and the message
//! options it shares with `schedules add` (spec §2), sent as the same headers the SDKs send.

use clap::Args;

use super::http::{Call, Client};
use super::render::print_json;
use super::{CliError, Server};
use crate::wire::PublishAnswer;

pub const EXAMPLES: &str = "\
Examples:
  postdate publish https://example.com/hook -d '{\"hello\":\"world\"}' -H 'Content-Type: application/json'
  postdate publish https://example.com/hook -d @payload.json --delay 10m --retries 5
  postdate publish https://example.com/hook --not-before 2026-01-01T09:00:00Z --method PUT
  postdate publish my-group -d 'to every endpoint of the URL group'
  postdate publish https://example.com/hook --queue orders -d 'in order, one at a time'";

#[derive(Args)]
pub struct PublishArgs {
    /// Destination: a URL (http:// or https://) or the name of a URL group.
    pub destination: String,
    #[command(flatten)]
    pub options: MessageOptions,
    /// Enqueue into this queue (created with parallelism 1 if missing) instead of publishing directly.
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    /// Not delivered before this time: RFC 3339 (2026-01-01T09:00:00Z) or Unix seconds; overrides --delay.
    #[arg(long, value_name = "TIME", value_parser = not_before_arg)]
    pub not_before: Option<i64>,
    /// Deduplication id: another publish with the same id within the dedup window answers this message.
    #[arg(long, value_name = "ID")]
    pub dedup_id: Option<String>,
    #[command(flatten)]
    pub server: Server,
}

/// What a message does, shared by `publish` and `schedules add`; each option is one header of spec §2.
#[derive(Args, Clone)]
pub struct MessageOptions {
    /// The body: text, or @FILE to read a file (@- reads standard input).
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Option<String>,
    /// A header `Name: value` for the destination (repeatable). `Content-Type` and `Upstash-*` option
    /// headers are sent as they are; any other is forwarded (sent as `Upstash-Forward-Name`).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = header_arg)]
    pub headers: Vec<(String, String)>,
    /// Delay before the first delivery: 30s, 10m, 2h, 1d…
    #[arg(long, value_name = "DURATION")]
    pub delay: Option<String>,
    /// Retries after the first attempt.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Milliseconds between retries, as an expression of `retried`: e.g. '1000 * (1 + retried)'.
    #[arg(long, value_name = "EXPRESSION")]
    pub retry_delay: Option<String>,
    /// HTTP method of the delivery (POST by default).
    #[arg(long, short = 'X', value_name = "METHOD")]
    pub method: Option<String>,
    /// Timeout of each delivery attempt: 30s, 5m…
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// URL called with the outcome of each attempt.
    #[arg(long, value_name = "URL")]
    pub callback: Option<String>,
    /// URL called once the message has finally failed.
    #[arg(long, value_name = "URL")]
    pub failure_callback: Option<String>,
    /// A label to filter by later (repeatable).
    #[arg(long)]
    pub label: Vec<String>,
    /// Flow-control key: messages under one key share its limits.
    #[arg(long, value_name = "KEY")]
    pub flow_control_key: Option<String>,
    /// The key's limits: 'parallelism=2, rate=10, period=1m' (any of them).
    #[arg(long, value_name = "LIMITS", requires = "flow_control_key")]
    pub flow_control: Option<String>,
}

impl MessageOptions {
    /// The request with these options as headers and the body read from `--data`.
    pub fn apply(&self, mut call: Call) -> Result<Call, CliError> {
        for (name, value) in &self.headers {
            call = call.header(&wire_header_name(name), value);
        }
        let options = [
            ("Upstash-Delay", self.delay.clone()),
            ("Upstash-Retries", self.retries.map(|n| n.to_string())),
            ("Upstash-Retry-Delay", self.retry_delay.clone()),
            ("Upstash-Method", self.method.clone()),
            ("Upstash-Timeout", self.timeout.clone()),
            ("Upstash-Callback", self.callback.clone()),
            ("Upstash-Failure-Callback", self.failure_callback.clone()),
            ("Upstash-Label", (!self.label.is_empty()).then(|| self.label.join(","))),
            ("Upstash-Flow-Control-Key", self.flow_control_key.clone()),
            ("Upstash-Flow-Control-Value", self.flow_control.clone()),
        ];
        for (name, value) in options {
            if let Some(value) = value {
                call = call.header(name, &value);
            }
        }
        Ok(match &self.data {
            Some(data) => call.body(read_data(data)?),
            None => call,
        })
    }
}

/// Headers reach the destination through `Upstash-Forward-`; the body's type and the options go as they
/// are (what the JS SDK does, spec §2).
fn wire_header_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "content-type" || lower.starts_with("upstash-") {
        name.to_string()
    } else {
        format!("Upstash-Forward-{name}")
    }
}

/// `Name: value`, as curl takes it.
fn header_arg(input: &str) -> Result<(String, String), String> {
    let (name, value) = input
        .split_once(':')
        .ok_or_else(|| format!("{input:?} is not a header: write 'Name: value'"))?;
    let name = name.trim();
    let valid_name = !name.is_empty() && http::HeaderName::from_bytes(name.as_bytes()).is_ok();
    if !valid_name {
        return Err(format!("{name:?} is not a header name"));
    }
    let value = value.trim();
    http::HeaderValue::from_str(value).map_err(|_| format!("the value of {name} is not a valid header value"))?;
    Ok((name.to_string(), value.to_string()))
}

/// RFC 3339 or Unix seconds, as Unix seconds (the unit of `Upstash-Not-Before`).
fn not_before_arg(input: &str) -> Result<i64, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(input.trim()) {
        return Ok(at.timestamp());
    }
    input
        .trim()
        .parse()
        .map_err(|_| format!("{input:?} is not a time: use RFC 3339 (2026-01-01T09:00:00Z) or Unix seconds"))
}

/// The body: the text itself, or the bytes of the file after `@` (`@-`: standard input).
fn read_data(data: &str) -> Result<Vec<u8>, CliError> {
    match data.strip_prefix('@') {
        None => Ok(data.as_bytes().to_vec()),
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                .map_err(|e| CliError::Usage(format!("cannot read the body from standard input: {e}")))?;
            Ok(bytes)
        }
        Some(path) => {
            std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read the body from {path}: {e}")))
        }
    }
}

pub async fn run(args: PublishArgs) -> Result<(), CliError> {
    let client = Client::new(&args.server)?;
    // The destination goes into the path as typed: the server reads it back whole, query included (§1.6).
    let path = match &args.queue {
        Some(queue) => format!("/v2/enqueue/{}/{}", super::segment(queue), args.destination),
        None => format!("/v2/publish/{}", args.destination),
    };
    let mut call = args.options.apply(client.post(&path))?;
    if let Some(at) = args.not_before {
        call = call.header("Upstash-Not-Before", &at.to_string());
    }
    if let Some(id) = &args.dedup_id {
        call = call.header("Upstash-Deduplication-Id", id);
    }
    let answer: PublishAnswer = call.send().await?;
    if args.server.json {
        print_json(&answer);
        return Ok(());
    }
    let published = match answer {
        PublishAnswer::Url(one) => vec![one],
        PublishAnswer::UrlGroup(many) => many,
    };
    for message in published {
        // The id alone on stdout, so that `id=$(postdate publish …)` works; the rest is for people.
        println!("{}", message.message_id);
        if message.deduplicated == Some(true) {
            eprintln!(
                "(deduplicated: an earlier publish to {} had the same id or content)",
                message.url
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_forwarded_unless_they_are_options_or_the_content_type() {
        assert_eq!(wire_header_name("X-Trace"), "Upstash-Forward-X-Trace");
        assert_eq!(wire_header_name("Authorization"), "Upstash-Forward-Authorization");
        assert_eq!(wire_header_name("content-type"), "content-type");
        assert_eq!(wire_header_name("Upstash-Retries"), "Upstash-Retries");
    }

    #[test]
    fn a_header_argument_is_name_colon_value() {
        assert_eq!(header_arg("X-A: b: c"), Ok(("X-A".into(), "b: c".into())));
        assert!(header_arg("no colon").unwrap_err().contains("Name: value"));
        assert!(header_arg("bad name: v").unwrap_err().contains("header name"));
    }

    #[test]
    fn not_before_is_rfc3339_or_unix_seconds() {
        assert_eq!(not_before_arg("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(not_before_arg("1767225600"), Ok(1_767_225_600));
        assert!(not_before_arg("tomorrow").is_err());
    }
}
