//! Where a message goes, rebuilt from the raw request target (spec §1.6): the SDKs append the destination
//! unencoded, so its own query string arrives as the request's query string.

use std::net::IpAddr;

use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An http(s) URL exactly as published (it is also the signature's `sub`).
    Url(DestinationUrl),
    /// A URL-group name.
    UrlGroup(String),
}

/// An absolute http(s) URL, kept byte for byte as the publisher wrote it. Only URLs whose raw text names
/// the host the URL parser (and so the delivery client) will dial are accepted: what is validated, stored,
/// shown, signed and dialled is one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUrl {
    raw: String,
    host: String,
    /// The address when the host is an address literal (in any notation the parser accepts).
    ip: Option<IpAddr>,
    path: String,
}

impl DestinationUrl {
    pub fn parse(raw: &str) -> Result<Self, DestinationError> {
        check_raw(raw)?;
        let parsed = url::Url::parse(raw).map_err(|e| DestinationError::InvalidUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DestinationError::UnsupportedScheme(parsed.scheme().to_string()));
        }
        let ip = match parsed.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => {
                check_written_host(raw, name)?;
                None
            }
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => return Err(DestinationError::InvalidUrl("the URL has no host".into())),
        };
        Ok(DestinationUrl {
            raw: raw.to_string(),
            // As the parser writes it, e.g. `[::ffff:7f00:1]`: filters match what is dialled.
            host: parsed.host_str().unwrap_or_default().to_string(),
            ip,
            path: parsed.path().to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
    pub fn host(&self) -> &str {
        &self.host
    }
    /// The host as the destination policy judges it.
    pub fn parsed_host(&self) -> url::Host<&str> {
        match self.ip {
            Some(IpAddr::V4(v4)) => url::Host::Ipv4(v4),
            Some(IpAddr::V6(v6)) => url::Host::Ipv6(v6),
            None => url::Host::Domain(&self.host),
        }
    }
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The URL parser silently drops TAB, CR and LF anywhere, trims spaces and controls at the ends, reads `\\`
/// as `/` and skips extra slashes before the host (`http:///x` is host `x`): the string stored would not be
/// the one dialled, so such URLs are refused.
fn check_raw(raw: &str) -> Result<(), DestinationError> {
    if let Some(c) = raw.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(DestinationError::InvalidUrl(format!(
            "the URL contains the character {c:?}; percent-encode it"
        )));
    }
    if raw.contains('\\') {
        return Err(DestinationError::InvalidUrl(
            "the URL contains a backslash; percent-encode it as %5C".into(),
        ));
    }
    if let Some((scheme, rest)) = raw.split_once(':') {
        if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            let host_start = rest
                .strip_prefix("//")
                .ok_or_else(|| DestinationError::InvalidUrl("the URL must start with http:// or https://".into()))?;
            if host_start.starts_with('/') {
                return Err(DestinationError::InvalidUrl("the URL has no host".into()));
            }
        }
    }
    Ok(())
}

/// A host name must be written as the parser reads it (lower case aside): percent-escapes and Unicode
/// hosts are refused, so the stored URL shows the host that is dialled.
fn check_written_host(raw: &str, parsed: &str) -> Result<(), DestinationError> {
    let authority = raw
        .split_once("://")
        .map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let written = host_port.split(':').next().unwrap_or("");
    if written.eq_ignore_ascii_case(parsed) {
        Ok(())
    } else {
        Err(DestinationError::InvalidUrl(format!(
            "the host {written:?} is not written as it is dialled ({parsed:?}); write it that way"
        )))
    }
}

/// The token query parameter authenticates the request (spec §1.3); it is never part of the destination.
fn without_token(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            !key.eq_ignore_ascii_case("qstash_token")
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "destination is missing: append a URL or URL-group name to the path, e.g. /v2/publish/https://example.com/hook"
    )]
    Missing,
    #[error("destination scheme {0:?} is not supported: use http:// or https://")]
    UnsupportedScheme(String),
    #[error("destination is not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("destination {0:?} is neither an http(s) URL nor a URL-group name (letters, digits, '-', '_', '.')")]
    Invalid(String),
}

impl Destination {
    /// The URL as published, or the group name.
    pub fn as_str(&self) -> &str {
        match self {
            Destination::Url(url) => url.as_str(),
            Destination::UrlGroup(name) => name,
        }
    }

    /// Parses the raw path remainder after the route prefix and the raw query string, if any.
    pub fn from_request_target(rest: &str, query: Option<&str>) -> Result<Self, DestinationError> {
        if rest.is_empty() {
            return Err(DestinationError::Missing);
        }
        // Defensive repairs (spec §1.6 rule 2): a percent-encoded scheme is decoded once, and a proxy that
        // collapsed `//` after the scheme is undone.
        let lower = rest.to_ascii_lowercase();
        let mut target = if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
            percent_decode_str(rest).decode_utf8_lossy().into_owned()
        } else {
            rest.to_string()
        };
        for scheme in ["https:/", "http:/"] {
            let lower = target.to_ascii_lowercase();
            if lower.starts_with(scheme) && !lower.starts_with(&format!("{scheme}/")) {
                target.insert(scheme.len(), '/');
                break;
            }
        }
        let query = query.map(without_token).filter(|q| !q.is_empty());
        if let Some(q) = &query {
            target.push('?');
            target.push_str(q);
        }
        let lower = target.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return DestinationUrl::parse(&target).map(Destination::Url);
        }
        if let Some((scheme, _)) = target.split_once(':') {
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
                return Err(DestinationError::UnsupportedScheme(scheme.to_string()));
            }
        }
        if query.is_none() && super::ids::is_path_safe(&target) {
            return Ok(Destination::UrlGroup(target));
        }
        Err(DestinationError::Invalid(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    fn url(rest: &str, query: Option<&str>) -> String {
        match Destination::from_request_target(rest, query).unwrap() {
            Destination::Url(u) => u.as_str().to_string(),
            other => panic!("expected a URL, got {other:?}"),
        }
    }

    #[test]
    fn keeps_the_url_and_its_query_as_sent() {
        assert_eq!(
            url("https://example.com/path", Some("x=1&y=2")),
            "https://example.com/path?x=1&y=2"
        );
        assert_eq!(
            url("http://localhost:3000//double/%2Fslash", None),
            "http://localhost:3000//double/%2Fslash"
        );
        assert_eq!(url("https://example.com", None), "https://example.com");
    }

    #[test]
    fn repairs_collapsed_slashes_and_encoded_schemes() {
        assert_eq!(url("https:/example.com/a", None), "https://example.com/a");
        assert_eq!(url("https%3A%2F%2Fexample.com%2Fa", None), "https://example.com/a");
    }

    #[test]
    fn tells_groups_from_urls_and_rejects_the_rest() {
        assert_eq!(
            Destination::from_request_target("orders.v2", None).unwrap(),
            Destination::UrlGroup("orders.v2".into())
        );
        assert!(matches!(
            Destination::from_request_target("ftp://example.com/x", None),
            Err(DestinationError::UnsupportedScheme(s)) if s == "ftp"
        ));
        assert!(matches!(
            Destination::from_request_target("", None),
            Err(DestinationError::Missing)
        ));
        assert!(matches!(
            Destination::from_request_target("https://", None),
            Err(DestinationError::InvalidUrl(_))
        ));
        assert!(matches!(
            Destination::from_request_target("no spaces", None),
            Err(DestinationError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_urls_the_parser_would_read_differently() {
        for raw in [
            "https://example.com/a\tb",
            "https://exa\nmple.com/",
            "https://example.com/\r\nX-Injected: 1",
            "https://example.com/a b",
            " https://example.com/",
            "http:///example.com/x",
            "http:////example.com/x",
            "http:\\\\example.com/x",
            "http://evil.example\\@good.example/",
            "http:example.com/x",
            "https://m%C3%BCnchen.example/",
            "https://münchen.example/",
            "https://exa%6Dple.com/",
        ] {
            assert!(DestinationUrl::parse(raw).is_err(), "{raw:?} is refused");
        }
        assert!(matches!(
            Destination::from_request_target("http:///x", None),
            Err(DestinationError::InvalidUrl(_))
        ));
        assert!(Destination::from_request_target("https://example.com/a\tb", None).is_err());
        // Hosts written as the parser reads them (case aside), with user info and ports, are fine.
        for raw in [
            "https://User:pw@Example.COM:8443/x?y=1#z",
            "http://127.0.0.1:3000/",
            "http://[::1]:8080/",
            "https://xn--mnchen-3ya.example/",
        ] {
            assert!(DestinationUrl::parse(raw).is_ok(), "{raw:?} is accepted");
        }
    }

    #[test]
    fn address_literals_in_any_notation_are_kept_as_written_and_judged_as_dialled() {
        for (raw, host) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
            ("http://[::FFFF:7F00:1]/", "[::ffff:7f00:1]"),
        ] {
            let url = DestinationUrl::parse(raw).unwrap();
            assert_eq!(url.as_str(), raw);
            assert_eq!(url.host(), host);
            assert!(matches!(url.parsed_host(), url::Host::Ipv4(_) | url::Host::Ipv6(_)));
        }
    }

    #[test]
    fn the_token_query_parameter_is_never_part_of_the_destination() {
        assert_eq!(
            url("https://example.com/hook", Some("a=1&qstash_token=secret&b=2")),
            "https://example.com/hook?a=1&b=2"
        );
        assert_eq!(
            url("https://example.com/hook", Some("qstash_token=secret")),
            "https://example.com/hook"
        );
        assert_eq!(
            Destination::from_request_target("orders", Some("qstash_token=secret")).unwrap(),
            Destination::UrlGroup("orders".into())
        );
    }

    /// Pieces that trip URL parsers, glued together in any order.
    fn tricky_target() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("http://".to_string()),
            Just("https://".to_string()),
            Just("http:".to_string()),
            Just("/".to_string()),
            Just("\\".to_string()),
            Just("@".to_string()),
            Just(":".to_string()),
            Just("%".to_string()),
            Just("%2F".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just(" ".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("?".to_string()),
            Just("#".to_string()),
            Just(".".to_string()),
            Just("127.1".to_string()),
            Just("0x7f000001".to_string()),
            Just("::ffff:127.0.0.1".to_string()),
            Just("qstash_token=x".to_string()),
            "[a-zA-Z0-9-]{1,6}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    /// The host as the raw string names it, read naively: what a reader of the stored URL would assume.
    fn written_host(raw: &str) -> String {
        let authority = raw.split_once("://").unwrap().1.split(['/', '?', '#']).next().unwrap();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host_port.starts_with('[') {
            host_port[..=host_port.find(']').unwrap()].to_string()
        } else {
            host_port.split(':').next().unwrap().to_string()
        }
    }

    fn check_accepted(rest: &str, query: Option<&str>) -> Result<(), TestCaseError> {
        let Ok(Destination::Url(url)) = Destination::from_request_target(rest, query) else {
            return Ok(());
        };
        let raw = url.as_str();
        prop_assert!(!raw.chars().any(|c| c.is_control() || c.is_whitespace()), "{raw:?}");
        if !rest.contains('?') {
            let dialled = reqwest::Url::parse(raw).expect("an accepted URL parses");
            prop_assert!(dialled.query_pairs().all(|(k, _)| k != "qstash_token"), "{:?}", raw);
        }
        // What the delivery client dials: the same parser, on the same string.
        let dialled = reqwest::Url::parse(raw).expect("an accepted URL parses");
        prop_assert_eq!(dialled.host_str(), Some(url.host()), "{:?}", raw);
        let written = written_host(raw);
        match dialled.host() {
            Some(url::Host::Domain(name)) => {
                prop_assert!(
                    written.eq_ignore_ascii_case(name),
                    "{:?} is written as {:?}",
                    raw,
                    written
                )
            }
            Some(url::Host::Ipv4(ip)) => prop_assert_eq!(
                Ok(ip),
                url::Host::parse(&written).map(|h| match h {
                    url::Host::Ipv4(ip) => ip,
                    _ => std::net::Ipv4Addr::UNSPECIFIED,
                })
            ),
            Some(url::Host::Ipv6(ip)) => {
                let literal = written.trim_start_matches('[').trim_end_matches(']');
                prop_assert_eq!(literal.parse::<std::net::Ipv6Addr>().ok(), Some(ip))
            }
            None => prop_assert!(false, "{:?} has no host", raw),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn accepted_tricky_urls_are_dialled_as_written(rest in tricky_target(), query in prop::option::of(tricky_target())) {
            check_accepted(&rest, query.as_deref())?;
        }

        #[test]
        fn arbitrary_strings_never_panic_and_accepted_ones_are_dialled_as_written(
            rest in any::<String>(),
            query in prop::option::of(any::<String>()),
        ) {
            check_accepted(&rest, query.as_deref())?;
            check_accepted(&format!("https://{rest}"), query.as_deref())?;
        }
    }

    #[test]
    fn exposes_host_and_path_for_filters() {
        let d = DestinationUrl::parse("https://api.example.com:8443/jobs/run?x=1").unwrap();
        assert_eq!(d.host(), "api.example.com");
        assert_eq!(d.path(), "/jobs/run");
    }
}
