//! Where a message goes, rebuilt from the raw request target (spec §1.6): the SDKs append the destination
//! unencoded, so its own query string arrives as the request's query string.

use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An http(s) URL exactly as published (it is also the signature's `sub`).
    Url(DestinationUrl),
    /// A URL-group name.
    UrlGroup(String),
}

/// An absolute http(s) URL, kept byte for byte as the publisher wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUrl {
    raw: String,
    host: String,
    path: String,
}

impl DestinationUrl {
    pub fn parse(raw: &str) -> Result<Self, DestinationError> {
        // The URL parser would silently drop or encode control characters; the raw text is what we store.
        if raw.chars().any(|c| c.is_ascii_control()) {
            return Err(DestinationError::InvalidUrl(
                "the URL must not contain control characters".into(),
            ));
        }
        let parsed = url::Url::parse(raw).map_err(|e| DestinationError::InvalidUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DestinationError::UnsupportedScheme(parsed.scheme().to_string()));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| DestinationError::InvalidUrl("the URL has no host".into()))?
            .to_string();
        Ok(DestinationUrl {
            raw: raw.to_string(),
            host,
            path: parsed.path().to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn path(&self) -> &str {
        &self.path
    }
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
        if let Some(q) = query.filter(|q| !q.is_empty()) {
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
    fn exposes_host_and_path_for_filters() {
        let d = DestinationUrl::parse("https://api.example.com:8443/jobs/run?x=1").unwrap();
        assert_eq!(d.host(), "api.example.com");
        assert_eq!(d.path(), "/jobs/run");
    }
}
