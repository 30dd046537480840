//! Webhook-receiver mode: a third party that cannot set headers gives a publish's options as query
//! parameters (`/v2/publish/https://…?upstash-retries=3&upstash-delay=100s`), and a URL group can carry
//! default headers for every publish to it. Both become request headers before the options are parsed, so
//! they follow exactly the validation and destination policy of headers; neither ever overrides a header
//! the request sent itself.

use super::headers::{canonical_name, HeaderMap};
use super::option_rules::{invalid, not_forwardable, InvalidOption};
use super::options::is_option;

const OPTION_PREFIX: &str = "upstash-";

/// A publish's query, split: the option parameters, and what stays the destination's own query string.
#[derive(Debug, Default, PartialEq)]
pub struct SplitQuery {
    /// `upstash-*` parameters (any case), names lower-cased, values percent-decoded, in order.
    pub options: Vec<(String, String)>,
    /// The other parameters, exactly as sent; `None` when none are left.
    pub destination: Option<String>,
}

/// Splits `query` into option parameters and the destination's query. A parameter named `upstash-…` that is
/// not an option is an error: a misspelt option must not be delivered as part of the URL, nor ignored.
pub fn split_query(query: Option<&str>) -> Result<SplitQuery, InvalidOption> {
    let mut split = SplitQuery::default();
    let mut kept = Vec::new();
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name).to_ascii_lowercase();
        if !name.starts_with(OPTION_PREFIX) {
            kept.push(pair);
            continue;
        }
        if !is_option(&name) {
            return Err(invalid(
                &format!("{name} query parameter"),
                "is not a publish option (options are Upstash-* header names, e.g. upstash-retries=3)",
            ));
        }
        split.options.push((name, decode(raw_value)));
    }
    split.destination = (!kept.is_empty()).then(|| kept.join("&"));
    Ok(split)
}

/// `application/x-www-form-urlencoded` decoding of one name or value (`+` is a space).
fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Adds the query's options to `headers`. The same option as a header with another value, or twice in the
/// query with different values, is an error: which one was meant cannot be told. `Upstash-Forward-*`
/// parameters may repeat (a header with several values).
pub fn add_query_options(headers: &mut http::HeaderMap, options: &[(String, String)]) -> Result<(), InvalidOption> {
    let sent = headers.clone();
    for (name, value) in options {
        let header = canonical_name(name);
        let parsed_name =
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(&header, "is not a header name"))?;
        let parsed_value =
            http::HeaderValue::from_str(value).map_err(|_| invalid(&header, "the query value is not visible text"))?;
        if let Some(existing) = sent.get(&parsed_name) {
            if existing != parsed_value {
                return Err(invalid(
                    &header,
                    "is given both as a header and as a query parameter, with different values",
                ));
            }
            continue;
        }
        match headers.get(&parsed_name) {
            Some(earlier) if name.starts_with("upstash-forward-") && earlier != parsed_value => {
                headers.append(parsed_name, parsed_value);
            }
            Some(earlier) if earlier != parsed_value => {
                return Err(invalid(&header, "is given twice in the query, with different values"));
            }
            Some(_) => {}
            None => {
                headers.insert(parsed_name, parsed_value);
            }
        }
    }
    Ok(())
}

/// Checks a URL group's default headers (`PATCH /v2/topics/{name}`): `Upstash-*` names must be publish
/// options, and any other name must be one that may be forwarded to the endpoints.
pub fn check_group_headers(defaults: &HeaderMap) -> Result<(), InvalidOption> {
    for (name, values) in defaults {
        let lower = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            return Err(invalid(name, "is not a header name"));
        }
        if values.iter().any(|v| http::HeaderValue::from_str(v).is_err()) {
            return Err(invalid(name, "the value is not visible text"));
        }
        if lower.starts_with(OPTION_PREFIX) {
            if !is_option(&lower) || lower == "upstash-cron" || lower == "upstash-schedule-id" {
                return Err(invalid(name, "is not an option a URL group can set for its publishes"));
            }
        } else if let Some(reason) = not_forwardable(&lower) {
            return Err(invalid(name, reason));
        }
    }
    Ok(())
}

/// Adds a group's default headers to a publish's: an `Upstash-*` default is an option, any other is
/// forwarded to the endpoints (as `Upstash-Forward-<Name>`). The publish's own header wins.
pub fn add_group_defaults(headers: &mut http::HeaderMap, defaults: &HeaderMap) {
    for (name, values) in defaults {
        let lower = name.to_ascii_lowercase();
        let header = match lower.starts_with(OPTION_PREFIX) {
            true => lower,
            false => format!("upstash-forward-{lower}"),
        };
        let Ok(header) = http::HeaderName::from_bytes(header.as_bytes()) else {
            continue;
        };
        if headers.contains_key(&header) {
            continue;
        }
        for value in values {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.append(header.clone(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn options_leave_the_query_and_the_rest_stays_the_destinations() {
        let split = split_query(Some(
            "a=1&Upstash-Retries=3&upstash-delay=100s&b=x%20y&upstash-forward-x-k=v+w",
        ))
        .unwrap();
        assert_eq!(
            split.options,
            [
                ("upstash-retries".to_string(), "3".to_string()),
                ("upstash-delay".into(), "100s".into()),
                ("upstash-forward-x-k".into(), "v w".into()),
            ]
        );
        assert_eq!(
            split.destination.as_deref(),
            Some("a=1&b=x%20y"),
            "kept exactly as sent"
        );
        assert_eq!(split_query(Some("upstash-retries=1")).unwrap().destination, None);
        assert_eq!(split_query(None).unwrap(), SplitQuery::default());
    }

    #[test]
    fn an_upstash_parameter_that_is_no_option_is_an_error() {
        for query in [
            "upstash-retires=3",
            "upstash-forward-=x",
            "upstash-signature=forged",
            "UPSTASH-MESSAGE-ID=1",
        ] {
            let error = split_query(Some(query)).unwrap_err();
            assert!(error.to_string().contains("not a publish option"), "{query}: {error}");
        }
    }

    #[test]
    fn query_options_become_headers_and_conflicts_are_errors() {
        let mut h = headers(&[("upstash-retries", "3")]);
        let options = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        add_query_options(&mut h, &options(&[("upstash-retries", "3"), ("upstash-delay", "10s")])).unwrap();
        assert_eq!(
            (
                h["upstash-retries"].to_str().unwrap(),
                h["upstash-delay"].to_str().unwrap()
            ),
            ("3", "10s")
        );
        let conflict = add_query_options(&mut h.clone(), &options(&[("upstash-retries", "5")])).unwrap_err();
        assert!(
            conflict
                .to_string()
                .contains("both as a header and as a query parameter"),
            "{conflict}"
        );
        let twice = add_query_options(
            &mut http::HeaderMap::new(),
            &options(&[("upstash-timeout", "1s"), ("upstash-timeout", "2s")]),
        )
        .unwrap_err();
        assert!(twice.to_string().contains("twice"), "{twice}");
        let mut forward = http::HeaderMap::new();
        add_query_options(
            &mut forward,
            &options(&[("upstash-forward-x", "1"), ("upstash-forward-x", "2")]),
        )
        .unwrap();
        assert_eq!(forward.get_all("upstash-forward-x").iter().count(), 2);
    }

    #[test]
    fn group_defaults_are_options_or_forwarded_and_never_override_the_publish() {
        let defaults: HeaderMap = [
            ("Upstash-Retries".to_string(), vec!["7".to_string()]),
            ("X-Api-Key".to_string(), vec!["k".to_string()]),
            ("Upstash-Delay".to_string(), vec!["1h".to_string()]),
        ]
        .into_iter()
        .collect();
        check_group_headers(&defaults).unwrap();
        let mut h = headers(&[("upstash-delay", "5s")]);
        add_group_defaults(&mut h, &defaults);
        assert_eq!(h["upstash-retries"], "7");
        assert_eq!(h["upstash-forward-x-api-key"], "k");
        assert_eq!(h["upstash-delay"], "5s", "the publish's own header wins");
        for bad in [
            "Upstash-Signature",
            "Upstash-Cron",
            "Host",
            "Transfer-Encoding",
            "bad name",
        ] {
            let map: HeaderMap = [(bad.to_string(), vec!["x".to_string()])].into_iter().collect();
            assert!(check_group_headers(&map).is_err(), "{bad}");
        }
    }
}
