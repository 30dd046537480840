//! `POST /v2/publish/{destination}` (spec §3.1).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::accept::{accept, add_group_defaults, messages_for, Accepted};
use super::error::ApiError;
use super::request::{caller_ip, path_after, read_body};
use crate::domain::destination::Destination;
use crate::domain::options::MessageOptions;
use crate::domain::webhook::{add_query_options, split_query};
use crate::metrics::AcceptedKind;
use crate::state::AppState;
use crate::wire::PublishAnswer;

const PREFIX: &str = "/v2/publish/";
const ENQUEUE_PREFIX: &str = "/v2/enqueue/";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/publish/{*destination}", post(publish))
        .route("/v2/enqueue/{*queue_and_destination}", post(enqueue))
}

/// A schedule created through `Upstash-Cron`, or the messages published.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum PublishOrSchedule {
    Published(PublishAnswer),
    Schedule(crate::wire::ScheduleCreated),
}

async fn publish(
    State(app): State<AppState>,
    mut request: Request,
) -> Result<(StatusCode, Json<PublishOrSchedule>), ApiError> {
    take_query_options(&mut request)?;
    let rest = path_after(&request, PREFIX);
    if request.headers().contains_key("upstash-cron") {
        // QStash's first API (and tutorials still in circulation) create schedules this way: never deliver
        // such a request once, at once.
        let Json(created) = super::schedules::create(&app, &rest, request).await?;
        return Ok((StatusCode::CREATED, Json(PublishOrSchedule::Schedule(created))));
    }
    let (status, Json(answer)) = publish_to(&app, &rest, None, request).await?;
    Ok((status, Json(PublishOrSchedule::Published(answer))))
}

/// `POST /v2/enqueue/{queue}/{destination}` (spec §3.2): a publish into a FIFO queue, created on first use.
async fn enqueue(
    State(app): State<AppState>,
    mut request: Request,
) -> Result<(StatusCode, Json<PublishAnswer>), ApiError> {
    take_query_options(&mut request)?;
    let rest = path_after(&request, ENQUEUE_PREFIX);
    let (queue, destination) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
    let queue = percent_encoding::percent_decode_str(queue)
        .decode_utf8_lossy()
        .into_owned();
    super::queues::valid_name(&queue)?;
    publish_to(&app, destination, Some(queue), request).await
}

/// Webhook-receiver mode: the query's `upstash-*` options become the request's headers (a conflict with a
/// header is a 400) and leave the query, whose rest is the destination's own.
fn take_query_options(request: &mut Request) -> Result<(), ApiError> {
    let split = split_query(request.uri().query())?;
    if split.options.is_empty() {
        return Ok(());
    }
    add_query_options(request.headers_mut(), &split.options)?;
    let path = request.uri().path();
    let target = match &split.destination {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    *request.uri_mut() = target
        .parse()
        .map_err(|_| ApiError::BadRequest("the request target cannot be read".into()))?;
    Ok(())
}

/// Parses everything before storing anything: a bad header or destination changes nothing.
async fn publish_to(
    app: &AppState,
    rest: &str,
    queue: Option<String>,
    request: Request,
) -> Result<(StatusCode, Json<PublishAnswer>), ApiError> {
    let (mut parts, body) = request.into_parts();
    let destination = Destination::from_request_target(rest, parts.uri.query())?;
    if crate::domain::workflow::publish::is_workflow_publish(&parts.headers) && queue.is_none() {
        let body = read_body(body, app.max_body_bytes).await?;
        let caller_ip = caller_ip(&parts.extensions);
        let now = app.clock.now_ms();
        let prepared =
            super::workflows::publish::prepare(app, destination, parts.headers, body, caller_ip, now).await?;
        let mut published = super::workflows::publish::store(app, vec![prepared], now).await?;
        let published = published.pop().expect("one answer per stored publish");
        let status = match published.deduplicated {
            Some(true) => StatusCode::ACCEPTED,
            _ => StatusCode::CREATED,
        };
        return Ok((status, Json(PublishAnswer::Url(published))));
    }
    add_group_defaults(app, &destination, &mut parts.headers).await?;
    let options = MessageOptions::from_headers(&parts.headers, &app.limits)?;
    super::destinations::check(app, &destination, &options)?;
    // Raw bytes, not `AppJson`: a message body is opaque (any content type) and delivered as sent.
    let body = read_body(body, app.max_body_bytes).await?;
    let now = app.clock.now_ms();
    let dedup_key = options.deduplication_key(destination.as_str(), &body);
    // A URL group answers with a bare array, one element per endpoint (spec §3.1).
    let group = matches!(destination, Destination::UrlGroup(_));
    let caller_ip = caller_ip(&parts.extensions);
    let mut messages = messages_for(app, destination, &options, body, caller_ip, now).await?;
    if let Some(queue) = &queue {
        app.store.queue_ensure(queue, now).await?;
        for message in &mut messages {
            message.queue_name = Some(queue.clone());
        }
    }
    let kind = match queue {
        Some(_) => AcceptedKind::enqueue,
        None => AcceptedKind::publish,
    };
    let accepted = accept(app, messages, dedup_key, options.flow_control.as_ref(), now, kind).await?;
    Ok((status(&accepted), Json(accepted.answer(group))))
}

/// 201 for new messages, 202 for a duplicate (spec §3.4).
fn status(accepted: &Accepted) -> StatusCode {
    if accepted.is_duplicate() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    }
}
