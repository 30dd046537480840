//! Header maps as QStash shows them: `{"Canonical-Name": ["value", ...]}` (spec §0.2).

use std::collections::BTreeMap;

/// Header name in canonical MIME casing → values, in a stable order.
pub type HeaderMap = BTreeMap<String, Vec<String>>;

/// Go's canonical MIME casing: `x-trace-id` → `X-Trace-Id`.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// The headers that fit in `limit` bytes (names and values counted), in order; those that do not fit are dropped, so that
/// a destination answering with huge headers cannot make a DLQ entry larger than its body cap.
pub fn capped(map: HeaderMap, limit: usize) -> HeaderMap {
    let mut used = 0usize;
    let mut kept = HeaderMap::new();
    for (name, values) in map {
        let mut fitting = Vec::new();
        for value in values {
            let size = name.len() + value.len();
            if used + size > limit {
                break;
            }
            used += size;
            fitting.push(value);
        }
        if !fitting.is_empty() {
            kept.insert(name, fitting);
        }
    }
    kept
}

/// Collects an HTTP header map (e.g. a destination's response) into our JSON shape; values that are not
/// text are shown lossily rather than dropped.
pub fn from_http(headers: &http::HeaderMap) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.entry(canonical_name(name.as_str()))
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    map
}

pub fn to_json(map: &HeaderMap) -> String {
    serde_json::to_string(map).expect("a map of strings always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_keeps_headers_within_the_limit() {
        let map: HeaderMap = [
            ("A".to_string(), vec!["1".to_string(), "x".repeat(100)]),
            ("B".to_string(), vec!["22".to_string()]),
        ]
        .into_iter()
        .collect();
        let kept = capped(map.clone(), 10);
        assert_eq!(
            kept,
            [
                ("A".to_string(), vec!["1".to_string()]),
                ("B".to_string(), vec!["22".to_string()])
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(capped(map.clone(), 1_000), map);
        assert!(capped(map, 1).is_empty());
    }

    #[test]
    fn canonicalises_like_go() {
        assert_eq!(canonical_name("test-header"), "Test-Header");
        assert_eq!(canonical_name("CONTENT-TYPE"), "Content-Type");
        assert_eq!(canonical_name("x-b3-traceid"), "X-B3-Traceid");
    }

    #[test]
    fn round_trips_through_json() {
        let mut map = HeaderMap::new();
        map.insert("X-A".into(), vec!["1".into(), "2".into()]);
        assert_eq!(serde_json::from_str::<HeaderMap>(&to_json(&map)).unwrap(), map);
        assert_eq!(to_json(&map), r#"{"X-A":["1","2"]}"#);
    }
}
