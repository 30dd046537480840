//! The history a step's delivery carries as its body (protocol §3.2): `[{messageId, body, callType}]`,
//! each body base64 of what was published, in publish order, cut at the delivered message (inclusive).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

/// One published message of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub message_id: String,
    /// `step` or `toCallback` (the SDK decodes only `step` entries after the first).
    pub call_type: String,
    pub body: Vec<u8>,
    /// When the entry was published (ms): a step's `createdAt` in the logs.
    pub created_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawStep<'a> {
    message_id: &'a str,
    body: String,
    call_type: &'a str,
}

/// The JSON the SDK parses as its history.
pub fn to_json(entries: &[HistoryEntry]) -> Vec<u8> {
    let steps: Vec<RawStep<'_>> = entries
        .iter()
        .map(|e| RawStep {
            message_id: &e.message_id,
            body: STANDARD.encode(&e.body),
            call_type: &e.call_type,
        })
        .collect();
    serde_json::to_vec(&steps).expect("a history serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_base64_in_order() {
        let entries = [
            HistoryEntry {
                message_id: "msg_1".into(),
                call_type: "step".into(),
                body: b"{\"n\":1}".to_vec(),
                created_at: 1,
            },
            HistoryEntry {
                message_id: "msg_2".into(),
                call_type: "toCallback".into(),
                body: Vec::new(),
                created_at: 2,
            },
        ];
        let json: serde_json::Value = serde_json::from_slice(&to_json(&entries)).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"messageId": "msg_1", "body": STANDARD.encode(b"{\"n\":1}"), "callType": "step"},
                {"messageId": "msg_2", "body": "", "callType": "toCallback"},
            ])
        );
    }
}
