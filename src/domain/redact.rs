//! `Upstash-Redact-Fields` (spec §2): values the API and logs show as `REDACTED:<sha256 hex>` while the
//! delivery still carries the originals.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::headers::{canonical_name, HeaderMap};
use super::option_rules::InvalidOption;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redact {
    #[serde(default)]
    pub body: bool,
    #[serde(default)]
    pub all_headers: bool,
    /// Canonical names of single headers to hide.
    #[serde(default)]
    pub headers: Vec<String>,
}

/// `body`, `header` / `headers` (all of them), `header[Name]` / `headers[Name]`; commas, optional spaces.
pub fn parse(value: &str) -> Result<Redact, InvalidOption> {
    let mut redact = Redact::default();
    for field in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let lower = field.to_ascii_lowercase();
        if lower == "body" {
            redact.body = true;
        } else if lower == "header" || lower == "headers" {
            redact.all_headers = true;
        } else if let Some(name) = ["header[", "headers["]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .and_then(|rest| rest.strip_suffix(']'))
            .filter(|name| !name.is_empty())
        {
            redact.headers.push(canonical_name(name));
        } else {
            return Err(InvalidOption {
                header: "Upstash-Redact-Fields".into(),
                reason: format!("{field:?} is not body, header or header[Name]"),
            });
        }
    }
    Ok(redact)
}

pub fn hashed(value: &[u8]) -> String {
    let digest: String = Sha256::digest(value).iter().map(|b| format!("{b:02x}")).collect();
    format!("REDACTED:{digest}")
}

impl Redact {
    /// The header map as the API shows it.
    pub fn header(&self, header: &HeaderMap) -> HeaderMap {
        header
            .iter()
            .map(|(name, values)| {
                let hide = self.all_headers || self.headers.iter().any(|h| h == name);
                let shown = if hide {
                    values.iter().map(|v| hashed(v.as_bytes())).collect()
                } else {
                    values.clone()
                };
                (name.clone(), shown)
            })
            .collect()
    }
}

pub fn to_column(redact: &Option<Redact>) -> Option<String> {
    redact
        .as_ref()
        .map(|r| serde_json::to_string(r).expect("redaction settings serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_spellings() {
        let r = parse("body, header[Authorization],headers[x-api-key]").unwrap();
        assert!(r.body && !r.all_headers);
        assert_eq!(r.headers, ["Authorization", "X-Api-Key"]);
        assert!(parse("headers").unwrap().all_headers);
        assert!(parse("bodies").is_err());
        assert!(parse("header[]").is_err());
    }

    #[test]
    fn hides_only_the_named_headers() {
        let r = parse("header[Authorization]").unwrap();
        let map = HeaderMap::from([
            ("Authorization".to_string(), vec!["Bearer s".to_string()]),
            ("X-Trace".to_string(), vec!["t".to_string()]),
        ]);
        let shown = r.header(&map);
        assert_eq!(shown["X-Trace"], ["t"]);
        assert_eq!(shown["Authorization"][0], hashed(b"Bearer s"));
        assert!(shown["Authorization"][0].starts_with("REDACTED:") && shown["Authorization"][0].len() == 9 + 64);
    }
}
