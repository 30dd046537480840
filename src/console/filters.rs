//! The filter form of the message and DLQ lists, and its translation into the API's query: blank fields
//! are left out (a blank form field means "any"), every other value goes to the API, which refuses
//! what it does not understand.

use maud::{html, Markup};

/// (query key, label, placeholder) of the text filters both lists offer.
const TEXT_FILTERS: &[(&str, &str, &str)] = &[
    ("url", "Destination URL", "https://api.example.com/hook"),
    ("host", "Host", "api.example.com"),
    ("label", "Label", "billing"),
    ("queueName", "Queue", "emails"),
    ("topicName", "URL group", "fan-out"),
    ("scheduleId", "Schedule id", "scd_…"),
    ("flowControlKey", "Flow-control key", "tenant-7"),
    ("messageId", "Message id", "msg_…"),
];

/// The states a message list can be narrowed to.
const STATES: &[&str] = &[
    "CREATED",
    "ACTIVE",
    "RETRY",
    "CANCEL_REQUESTED",
    "DELIVERED",
    "FAILED",
    "CANCELED",
];

/// A list's filters as the page was asked for them.
pub struct Filters {
    pairs: Vec<(String, String)>,
}

/// The filters of the page's own query string.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Filters {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Filters::parse(parts.uri.query()))
    }
}

impl Filters {
    pub fn parse(raw: Option<&str>) -> Filters {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Filters { pairs }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The API query of these filters (without paging), `responseStatus` only for the DLQ.
    pub fn api_query(&self, dlq: bool) -> Vec<(String, String)> {
        let mut query: Vec<(String, String)> = Vec::new();
        for (key, _, _) in TEXT_FILTERS {
            if let Some(value) = self.get(key) {
                query.push((key.to_string(), value.to_string()));
            }
        }
        if dlq {
            if let Some(status) = self.get("responseStatus") {
                query.push(("responseStatus".into(), status.into()));
            }
        } else if let Some(state) = self.get("state") {
            query.push(("state".into(), state.into()));
        }
        query.extend(self.time_range());
        query
    }

    /// The form's `from` and `to` as the API's `fromDate` and `toDate` (Unix ms).
    pub fn time_range(&self) -> Vec<(String, String)> {
        let offset_minutes: i64 = self.get("tz").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut range = Vec::new();
        for (field, key) in [("from", "fromDate"), ("to", "toDate")] {
            if let Some(value) = self.get(field) {
                // datetime-local inputs carry no zone: the script sends the browser's offset along.
                let ms = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
                    .map(|t| (t.and_utc().timestamp_millis() + offset_minutes * 60_000).to_string())
                    .unwrap_or_else(|_| value.to_string());
                range.push((key.to_string(), ms));
            }
        }
        range
    }

    /// The filters again as this console's own query string (for paging links and bulk actions).
    pub fn console_query(&self) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs.iter().filter(|(k, _)| k != "cursor" && k != "done") {
            serializer.append_pair(k, v);
        }
        serializer.finish()
    }

    /// Whether any filter is set (paging aside).
    pub fn any(&self) -> bool {
        self.pairs
            .iter()
            .any(|(k, _)| !matches!(k.as_str(), "cursor" | "tz" | "done"))
    }
}

/// The shape of both lists' pages: `GET /v2/messages` ([`crate::wire::MessagePage`]) and `GET /v2/dlq`
/// ([`crate::wire::DlqPage`]) differ only in their rows.
#[derive(serde::Deserialize)]
struct ApiPage<Row> {
    messages: Vec<Row>,
    cursor: Option<String>,
}

/// One page of a filtered list as the API answered it.
pub struct ListPage<Row> {
    /// The filter form above the list.
    form: Markup,
    pub rows: Vec<Row>,
    /// The API's refusal of the filters, shown above the list.
    pub error: Option<String>,
    /// The console link to the next page, while more remain.
    pub next: Option<String>,
    /// The page holds fewer rows than asked for, yet more may follow: the API stopped at the end of its
    /// search window (`store::SEARCH_WINDOW` rows past the cursor).
    pub window_ended: bool,
}

impl<Row> ListPage<Row> {
    /// The page of `count` rows asked for with `filters`, from the API's answer: its rows and the cursor
    /// of the next page, or its refusal.
    pub fn new(
        form: Markup,
        filters: &Filters,
        count: usize,
        answer: Result<(Vec<Row>, Option<String>), String>,
    ) -> ListPage<Row> {
        let ((rows, cursor), error) = match answer {
            Ok(page) => (page, None),
            Err(refusal) => ((Vec::new(), None), Some(refusal)),
        };
        let next = cursor.map(|c| format!("?{}&cursor={}", filters.console_query(), super::client::encode(&c)));
        ListPage {
            form,
            error,
            window_ended: next.is_some() && rows.len() < count,
            rows,
            next,
        }
    }

    /// The page under `heading`: the filter form, then the API's refusal, or `empty` when nothing matched,
    /// or `table`; and the link to the next page.
    pub fn render(&self, heading: Markup, empty: Markup, table: impl FnOnce(&[Row]) -> Markup) -> Markup {
        html! {
            (heading)
            (self.form)
            @if let Some(error) = &self.error { p.error role="alert" { (error) } }
            @else if self.rows.is_empty() { (empty) }
            @else { (table(&self.rows)) }
            (self.next_link())
        }
    }

    /// The link to the next page: "Next page" after a full one, "Search further" after a search window.
    pub fn next_link(&self) -> Markup {
        html! {
            @if let Some(next) = &self.next {
                @if self.window_ended {
                    p.hint { "This search looked at the next " (super::layout::grouped(crate::store::SEARCH_WINDOW)) " rows and stopped there to stay fast; it can go on from where it stopped." }
                    p { a.button href=(next) { "Search further →" } }
                } @else {
                    p { a.button href=(next) { "Next page →" } }
                }
            }
        }
    }
}

/// The newest `count` rows of `resource` (`/v2/messages` or `/v2/dlq`) matching `filters`, from its cursor.
pub async fn fetch_page<Row: serde::de::DeserializeOwned>(
    app: &crate::state::AppState,
    resource: &str,
    filters: &Filters,
    count: usize,
) -> ListPage<Row> {
    let dlq = resource == "/v2/dlq";
    let mut query = filters.api_query(dlq);
    query.push(("count".into(), count.to_string()));
    query.push(("order".into(), "latestFirst".into()));
    if let Some(cursor) = filters.get("cursor") {
        query.push(("cursor".into(), cursor.into()));
    }
    let target = format!("{resource}?{}", query_string(&query));
    let answer = super::client::get_as::<ApiPage<Row>>(app, &target)
        .await
        .map(|page| (page.messages, page.cursor))
        .map_err(|refused| refused.1);
    ListPage::new(form(filters, resource_page(resource), dlq), filters, count, answer)
}

/// The console page listing an API resource.
fn resource_page(resource: &str) -> &'static str {
    match resource {
        "/v2/dlq" => "/console/dlq",
        _ => "/console/messages",
    }
}

/// `key=value&…`, percent-encoded.
pub fn query_string(pairs: &[(String, String)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// The filter form, submitting to `action` with GET.
pub fn form(filters: &Filters, action: &str, dlq: bool) -> Markup {
    html! {
        form.filters method="get" action=(action) data-local-range {
            @for (key, label, placeholder) in TEXT_FILTERS { (text_field(filters, key, label, placeholder)) }
            @if dlq {
                label { span { "Response status" } input type="text" inputmode="numeric" name="responseStatus" value=(filters.get("responseStatus").unwrap_or_default()) placeholder="500"; }
            } @else {
                label { span { "State" }
                    select name="state" {
                        option value="" { "any" }
                        @for state in STATES {
                            option value=(state) selected[filters.get("state") == Some(*state)] { (state) }
                        }
                    }
                }
            }
            (time_range_and_buttons(filters, action))
        }
    }
}

/// A text filter of a filter form.
pub fn text_field(filters: &Filters, key: &str, label: &str, placeholder: &str) -> Markup {
    html! {
        label { span { (label) } input type="text" name=(key) value=(filters.get(key).unwrap_or_default()) placeholder=(placeholder); }
    }
}

/// The end of a filter form: the time range (in the browser's zone, see [`Filters::time_range`]) and its
/// buttons.
pub fn time_range_and_buttons(filters: &Filters, action: &str) -> Markup {
    html! {
        label { span { "From" } input type="datetime-local" name="from" value=(filters.get("from").unwrap_or_default()); }
        label { span { "To" } input type="datetime-local" name="to" value=(filters.get("to").unwrap_or_default()); }
        input type="hidden" name="tz" value=(filters.get("tz").unwrap_or("0"));
        div.buttons {
            button.primary type="submit" { "Filter" }
            a.button href=(action) { "Clear" }
        }
    }
}
