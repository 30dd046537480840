//! Reading request parts the SDKs send in more than one shape: bodies under a size limit, repeated or
//! comma-separated query parameters, and filters given in the query or in a JSON body (spec §1.6, §4.3, §9).

use axum::body::Body;
use serde::de::{DeserializeOwned, DeserializeSeed};

use super::error::ApiError;
use crate::store::{Filter, Order};
use crate::wire::BulkBody;

/// Most values (ids, labels, URLs, … together) one filter may name. Each becomes a bind parameter, and
/// Postgres (65,535) and SQLite (32,766) refuse statements with more, so a longer list must be split by the
/// client into several requests.
pub const MAX_FILTER_VALUES: usize = 1000;

/// Query keys that page a result rather than narrow it.
pub const PAGING_KEYS: &[&str] = &["count", "cursor", "order"];

/// The filter keys that messages, the DLQ and the logs all take (spec §4.3, §9.1, §10.1); each adds its own.
pub const COMMON_FILTER_KEYS: &[&str] = &[
    "url",
    "host",
    "topicName",
    "queueName",
    "scheduleId",
    "label",
    "flowControlKey",
    "callerIp",
    "callerIP",
    "fromDate",
    "toDate",
];

/// The publisher's address (the socket peer), recorded as `callerIP` and sent as `Upstash-Caller-Ip`.
pub fn caller_ip(extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(addr)| addr.ip().to_string())
}

/// The raw request path after `prefix`, not a decoded one: a destination in it keeps its `//` and escapes.
pub fn path_after(request: &axum::extract::Request, prefix: &str) -> String {
    request
        .uri()
        .path()
        .strip_prefix(prefix)
        .unwrap_or_default()
        .to_string()
}

/// Reads the whole body, refusing more than `limit` bytes with 413. The bytes are not copied again: a
/// message body is stored (and fanned out) from this buffer.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(error) => {
            let mut causes = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source());
            let too_large = causes.clone().any(|e| e.is::<http_body_util::LengthLimitError>());
            let timed_out = causes.find_map(|e| e.downcast_ref::<crate::server::BodyTimeout>());
            if too_large {
                Err(ApiError::PayloadTooLarge(limit))
            } else if let Some(timeout) = timed_out {
                Err(ApiError::BodyTimeout(timeout.0))
            } else {
                Err(ApiError::BadRequest("could not read the request body".into()))
            }
        }
    }
}

/// The one way a JSON request body becomes a value: malformed JSON, trailing text or a body of the wrong
/// shape is answered with our `{"error": …}` 400, never axum's plain-text rejection.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json_seed(bytes, std::marker::PhantomData)
}

/// [`parse_json`] for a body read with state (a batch counts its items as they are read).
pub fn parse_json_seed<'de, S: DeserializeSeed<'de>>(bytes: &'de [u8], seed: S) -> Result<S::Value, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    seed.deserialize(&mut json)
        .and_then(|value| json.end().map(|()| value))
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// A JSON request body (axum's `AppJson` pattern), read within `--max-body-bytes` and parsed by
/// [`parse_json`].
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned> axum::extract::FromRequest<crate::state::AppState> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, app: &crate::state::AppState) -> Result<Self, ApiError> {
        let body = read_body(request.into_body(), app.max_body_bytes).await?;
        parse_json(&body).map(AppJson)
    }
}

/// A bulk request (cancel, DLQ delete, DLQ retry): its query, refused outside `allowed`, and its JSON body
/// if it has one. The filter may come from either (spec §4.3, §9.4): see [`Selection::of`].
pub async fn bulk_request(
    app: &crate::state::AppState,
    request: axum::extract::Request,
    allowed: &[&str],
) -> Result<(http::request::Parts, Query, Option<BulkBody>), ApiError> {
    let (parts, body) = request.into_parts();
    let query = Query::parse(parts.uri.query())?;
    query.only(allowed)?;
    let body = BulkBody::parse(&read_body(body, app.max_body_bytes).await?)?;
    Ok((parts, query, body))
}

/// Query parameters in order, percent-decoded, repeated keys kept.
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Refuses NUL characters, which no id or filter value can hold (Postgres text cannot store them).
    pub fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
        // `qstash_token` authenticates the request (spec §1.3); it is never a filter.
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .filter(|(k, _)| !k.eq_ignore_ascii_case(super::auth::QUERY_TOKEN))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(ApiError::BadRequest(
                "query parameters must not contain NUL characters".into(),
            ));
        }
        Ok(Query(pairs))
    }

    /// Removes `key` and reads it as `true` or `false` (a flag such as `async`, which selects nothing).
    pub fn take_flag(&mut self, key: &str) -> Result<Option<bool>, ApiError> {
        let mut flag = None;
        let mut error = None;
        self.0.retain(|(k, v)| {
            if k != key {
                return true;
            }
            match v.trim() {
                "true" => flag = Some(true),
                "false" => flag = Some(false),
                other => error = Some(format!("query parameter {key} must be true or false, got {other:?}")),
            }
            false
        });
        match error {
            Some(error) => Err(ApiError::BadRequest(error)),
            None => Ok(flag),
        }
    }

    /// Whether anything but paging parameters was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has_filters(&self) -> bool {
        self.0.iter().any(|(k, _)| !PAGING_KEYS.contains(&k.as_str()))
    }

    /// Refuses a filter key given without a value (`label=`, `host=,`): it must never read as "no filter".
    pub fn refuse_blank_filters(&self) -> Result<(), ApiError> {
        let blank = self
            .0
            .iter()
            .find(|(k, v)| !PAGING_KEYS.contains(&k.as_str()) && v.split(',').all(|part| part.trim().is_empty()));
        match blank {
            Some((key, _)) => Err(ApiError::BadRequest(format!(
                "query parameter {key} is empty: a filter must name something (leave it out to act on everything)"
            ))),
            None => Ok(()),
        }
    }

    pub fn first(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`; each value may also hold a comma-separated list (`label=a,b`).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Every value of `key`, not split on commas (URLs may contain them).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Refuses keys outside `allowed`, so a misspelt filter never widens a bulk operation to everything.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((key, _)) => Err(ApiError::BadRequest(format!(
                "unknown query parameter {key:?}; expected one of: {}",
                allowed.join(", ")
            ))),
            None => Ok(()),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.first(key)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::BadRequest(format!("query parameter {key} must be an integer, got {v:?}")))
            })
            .transpose()
    }

    /// The filters of spec §4.3 and §9.1.
    pub fn filter(&self) -> Result<Filter, ApiError> {
        let response_status = self
            .list("responseStatus")
            .iter()
            .map(|s| {
                s.parse::<i32>()
                    .map_err(|_| ApiError::BadRequest(format!("responseStatus must be an HTTP status, got {s:?}")))
            })
            .collect::<Result<_, _>>()?;
        let mut caller_ip = self.list("callerIp");
        caller_ip.extend(self.list("callerIP"));
        let mut message_ids = self.list("messageIds");
        message_ids.extend(self.list("messageId"));
        let workflow_only = match self.first("source") {
            None => false,
            Some("workflow") => true,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "source must be workflow (the DLQ entries of workflow runs), got {other:?}"
                )))
            }
        };
        // The Workflow SDK names a step's destination `workflowUrl` (its DLQ filters).
        let mut url = self.all("url");
        url.extend(self.all("workflowUrl"));
        bounded(Filter {
            message_ids,
            dlq_ids: self.list("dlqIds"),
            url,
            host: self.list("host"),
            path: self.all("path"),
            topic_name: self.list("topicName"),
            queue_name: self.list("queueName"),
            schedule_id: self.list("scheduleId"),
            caller_ip,
            label: self.list("label"),
            flow_control_key: self.list("flowControlKey"),
            response_status,
            workflow_run_id: self.list("workflowRunId"),
            workflow_only,
            from_date: self.int("fromDate")?,
            to_date: self.int("toDate")?,
        })
    }

    pub fn order(&self) -> Result<Order, ApiError> {
        match self.first("order") {
            None | Some("earliestFirst") => Ok(Order::EarliestFirst),
            Some("latestFirst") => Ok(Order::LatestFirst),
            Some(other) => Err(ApiError::BadRequest(format!(
                "order must be earliestFirst or latestFirst, got {other:?}"
            ))),
        }
    }

    /// `count`, defaulting to `default` and refused above `max` or below 1.
    pub fn count(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.int("count")? {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::BadRequest(format!(
                "count must be between 1 and {max}, got {n}"
            ))),
        }
    }
}

impl BulkBody {
    /// Parses a JSON body if there is one; an empty body means "no body".
    pub fn parse(bytes: &[u8]) -> Result<Option<BulkBody>, ApiError> {
        let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
            return Ok(None);
        };
        if bytes.contains(&0) || String::from_utf8_lossy(bytes).contains("\\u0000") {
            return Err(ApiError::BadRequest(
                "the JSON body must not contain NUL characters".into(),
            ));
        }
        // serde would also read a struct from an array (`[]`), which would then name nothing.
        if *first != b'{' {
            return Err(ApiError::BadRequest(
                "the JSON body must be an object such as {\"messageIds\": [\"…\"]}".into(),
            ));
        }
        parse_json(bytes).map(Some)
    }

    /// What the body selects: an explicit empty id list selects nothing; otherwise it must name something,
    /// with no blank value.
    fn selection(self) -> Result<Selection, ApiError> {
        if self.run_async.is_some() {
            return Err(ApiError::BadRequest(
                "async applies to the bulk cancel of messages only".into(),
            ));
        }
        let texts = [
            &self.url,
            &self.topic_name,
            &self.queue_name,
            &self.schedule_id,
            &self.caller_ip,
        ];
        let ids = [&self.message_ids, &self.dlq_ids];
        let blank = texts.iter().filter_map(|t| t.as_deref()).any(|t| t.trim().is_empty())
            || ids
                .iter()
                .filter_map(|i| i.as_deref())
                .flatten()
                .any(|id| id.trim().is_empty());
        if blank {
            return Err(ApiError::BadRequest(
                "the JSON body holds an empty filter value: a filter must name something".into(),
            ));
        }
        if ids.iter().any(|i| i.as_ref().is_some_and(Vec::is_empty)) {
            return Ok(Selection::Nothing);
        }
        Selection::matching(bounded(self.into_filter())?)
    }

    fn into_filter(self) -> Filter {
        Filter {
            message_ids: self.message_ids.unwrap_or_default(),
            dlq_ids: self.dlq_ids.unwrap_or_default(),
            url: self.url.into_iter().collect(),
            topic_name: self.topic_name.into_iter().collect(),
            queue_name: self.queue_name.into_iter().collect(),
            schedule_id: self.schedule_id.into_iter().collect(),
            caller_ip: self.caller_ip.into_iter().collect(),
            from_date: self.from_date,
            to_date: self.to_date,
            ..Filter::default()
        }
    }
}

/// The number of values `filter` names, refused above [`MAX_FILTER_VALUES`].
fn bounded(filter: Filter) -> Result<Filter, ApiError> {
    let named = [
        &filter.message_ids,
        &filter.dlq_ids,
        &filter.url,
        &filter.host,
        &filter.path,
        &filter.topic_name,
        &filter.queue_name,
        &filter.schedule_id,
        &filter.caller_ip,
        &filter.label,
        &filter.flow_control_key,
        &filter.workflow_run_id,
    ]
    .iter()
    .map(|values| values.len())
    .sum::<usize>()
        + filter.response_status.len();
    if named > MAX_FILTER_VALUES {
        return Err(ApiError::BadRequest(format!(
            "a filter may name at most {MAX_FILTER_VALUES} values (ids, labels, URLs, … together), got {named}: \
             split the request"
        )));
    }
    Ok(filter)
}

/// What a bulk operation (cancel, DLQ delete, DLQ retry) acts on.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one short-lived value per request
pub enum Selection {
    /// No filter in the query and no body: the explicit "all" the SDKs send (spec §4.3, §9.4, §9.5).
    All,
    /// An explicit but empty id list (`{"messageIds": []}`).
    Nothing,
    /// What a filter that names something matches.
    Matching(Filter),
}

impl Selection {
    /// The one fail-closed rule of bulk operations: only the absence of any filter means "all". A blank
    /// value, an empty or all-null body, a body that is not an object, or any filter that ends up naming
    /// nothing (including one a future key forgets to map into [`Filter`]) is refused, never widened.
    pub fn of(query: &Query, body: Option<BulkBody>) -> Result<Selection, ApiError> {
        match body {
            Some(_) if query.has_filters() => Err(ApiError::BadRequest(
                "give the filter either in the query or in the JSON body, not both".into(),
            )),
            Some(body) => body.selection(),
            None if !query.has_filters() => Ok(Selection::All),
            None => {
                query.refuse_blank_filters()?;
                Selection::matching(query.filter()?)
            }
        }
    }

    fn matching(filter: Filter) -> Result<Selection, ApiError> {
        if filter.is_empty() {
            return Err(ApiError::BadRequest(
                "the filter names nothing: give a filter value, or no filter and no body to act on everything".into(),
            ));
        }
        Ok(Selection::Matching(filter))
    }
}

/// A name or key from the path (URL group, flow-control key), percent-decoded once. Control characters can
/// name nothing we store (Postgres text cannot even hold NUL), so they are refused instead of looked up.
pub struct PathText(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("invalid path: {e}")))?;
        no_control_characters(&text)?;
        Ok(PathText(text))
    }
}

/// Refuses text from the path that holds control characters (NUL and the like).
pub fn no_control_characters(text: &str) -> Result<(), ApiError> {
    if text.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{text:?} must not contain control characters"
        )));
    }
    Ok(())
}

/// An id from the path (message id, DLQ id), percent-decoded once. Ids we issue are path-safe, so any other
/// text cannot name anything: it gets the same JSON 404 as an unknown id, except control characters (NUL),
/// which no client means to send: 400.
pub struct PathId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| id)
            .unwrap_or_default();
        no_control_characters(&id)?;
        if crate::domain::ids::is_path_safe(&id) {
            Ok(PathId(id))
        } else {
            Err(ApiError::NotFound(format!("{id:?} is not a known id")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_repeated_and_comma_separated_values() {
        let q = Query::parse(Some(
            "label=a&label=b,c&url=https%3A%2F%2Fx%2Fy%2Cz&fromDate=5&messageIds=m1",
        ))
        .unwrap();
        let f = q.filter().unwrap();
        assert_eq!(f.label, vec!["a", "b", "c"]);
        assert_eq!(f.url, vec!["https://x/y,z"]);
        assert_eq!(f.from_date, Some(5));
        assert_eq!(f.message_ids, vec!["m1"]);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_numbers() {
        assert!(Query::parse(Some("labels=a")).unwrap().only(&["label"]).is_err());
        assert!(Query::parse(Some("url=a%00b")).is_err());
        assert!(Query::parse(Some("fromDate=yesterday")).unwrap().filter().is_err());
        assert!(Query::parse(Some("count=0")).unwrap().count(100, 100).is_err());
        assert_eq!(Query::parse(None).unwrap().count(100, 100).unwrap(), 100);
    }

    fn selection(query: &str, body: &[u8]) -> Result<Selection, ApiError> {
        Selection::of(&Query::parse(Some(query)).unwrap(), BulkBody::parse(body)?)
    }

    #[test]
    fn only_the_absence_of_any_filter_selects_everything() {
        assert_eq!(selection("", b"").unwrap(), Selection::All);
        assert_eq!(selection("count=100", b" ").unwrap(), Selection::All);
        assert_eq!(
            selection("count=5&cursor=abc&order=latestFirst", b"").unwrap(),
            Selection::All
        );
        for query in [
            "label=",
            "host=,",
            "topicName=%20",
            "messageIds=",
            "url=",
            "callerIp=&count=100",
        ] {
            assert!(selection(query, b"").is_err(), "{query}");
        }
        for body in [
            &b"{}"[..],
            b"[]",
            b"null",
            b"1",
            b"{\"messageIds\":null}",
            b"{\"url\":\" \"}",
        ] {
            assert!(selection("", body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert!(
            selection("label=a", b"{\"messageIds\":[\"m\"]}").is_err(),
            "query and body together"
        );
    }

    #[test]
    fn an_explicit_empty_id_list_selects_nothing_and_filters_select_what_they_name() {
        assert_eq!(selection("", b"{\"messageIds\":[]}").unwrap(), Selection::Nothing);
        assert_eq!(selection("", b"{\"dlqIds\":[]}").unwrap(), Selection::Nothing);
        let Selection::Matching(filter) = selection("label=a,b&count=100", b"").unwrap() else {
            panic!("expected a filter")
        };
        assert_eq!(filter.label, vec!["a", "b"]);
        let Selection::Matching(filter) = selection("", b"{\"topicName\":\"g\"}").unwrap() else {
            panic!("expected a filter")
        };
        assert_eq!(filter.topic_name, vec!["g"]);
    }

    #[test]
    fn filters_are_capped_at_the_value_limit() {
        let at_limit: Vec<String> = (0..MAX_FILTER_VALUES).map(|i| format!("label=l{i}")).collect();
        assert!(Query::parse(Some(&at_limit.join("&"))).unwrap().filter().is_ok());
        let over = format!("{}&host=h", at_limit.join("&"));
        let error = Query::parse(Some(&over)).unwrap().filter().unwrap_err();
        assert!(error.to_string().contains("at most 1000"), "{error}");
    }

    #[test]
    fn bulk_bodies_are_optional_but_must_be_valid() {
        assert!(BulkBody::parse(b"").unwrap().is_none());
        let body = BulkBody::parse(br#"{"messageIds":["a","b"]}"#).unwrap().unwrap();
        assert_eq!(body.into_filter().message_ids, vec!["a", "b"]);
        assert!(BulkBody::parse(b"{nope").is_err());
        assert!(BulkBody::parse(br#"{"mesageIds":["a"]}"#).is_err());
    }
}
