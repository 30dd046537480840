//! Schedules (spec §5): create or replace `POST /v2/schedules/{destination}`, list, get, delete, pause and
//! resume (PATCH, as the SDKs send, and POST, as the docs say).

use axum::extract::{Request, State};
use axum::routing::get;
use axum::{Json, Router};
use http::Method;

use super::error::ApiError;
use super::request::{caller_ip, path_after, read_body, PathId};
use crate::domain::destination::Destination;
use crate::domain::ids::is_path_safe;
use crate::domain::options::MessageOptions;
use crate::domain::schedule::{NewSchedule, ScheduleError, ScheduleRequest};
use crate::state::AppState;
use crate::store::Schedule;
use crate::wire;

/// What the routes under `/v2/schedules/` answer.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answer {
    Created(wire::ScheduleCreated),
    Schedule(Box<wire::Schedule>),
    Done(wire::Empty),
}

const PREFIX: &str = "/v2/schedules/";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/schedules", get(list))
        // One route for everything below: a destination URL keeps its own `//` and query, so it cannot
        // share the router's path segments with `{id}/pause`.
        .route("/v2/schedules/{*rest}", axum::routing::any(dispatch))
}

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

/// Routes `{id}`, `{id}/pause`, `{id}/resume` and `{destination}` by method and shape.
async fn dispatch(State(app): State<AppState>, request: Request) -> Result<Json<Answer>, ApiError> {
    let rest = path_after(&request, PREFIX);
    let method = request.method().clone();
    let action = rest.rsplit_once('/').filter(|(id, _)| is_path_safe(id));
    // `POST …/pause` with no valid id is a destination URL ending in `/pause`; a `PATCH` can only be an action.
    let bad_id = rest
        .rsplit_once('/')
        .filter(|(id, action)| matches!(*action, "pause" | "resume") && !is_path_safe(id));
    if let (&Method::PATCH, Some((id, _))) = (&method, bad_id) {
        return Err(ApiError::BadRequest(format!(
            "invalid schedule id {id:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    match (&method, action) {
        (&Method::PATCH | &Method::POST, Some((id, "pause"))) => pause(&app, id).await.map(done),
        (&Method::PATCH | &Method::POST, Some((id, "resume"))) => resume(&app, id).await.map(done),
        (&Method::POST, _) => create(&app, &rest, request)
            .await
            .map(|Json(created)| Json(Answer::Created(created))),
        (&Method::GET | &Method::DELETE, _) => {
            let (mut parts, _) = request.into_parts();
            let PathId(id) =
                <PathId as axum::extract::FromRequestParts<()>>::from_request_parts(&mut parts, &()).await?;
            if method == Method::GET {
                get_one(&app, &id)
                    .await
                    .map(|Json(s)| Json(Answer::Schedule(Box::new(s))))
            } else {
                delete(&app, &id).await.map(done)
            }
        }
        _ => Err(ApiError::MethodNotAllowed(method.to_string())),
    }
}

fn done(Json(empty): Json<wire::Empty>) -> Json<Answer> {
    Json(Answer::Done(empty))
}

/// Creates or replaces the schedule of the request to `rest`, the raw destination after the route prefix
/// (also reached as `POST /v2/publish/{destination}` with `Upstash-Cron`, QStash's first API).
pub(super) async fn create(
    app: &AppState,
    rest: &str,
    request: Request,
) -> Result<Json<wire::ScheduleCreated>, ApiError> {
    let (parts, body) = request.into_parts();
    let destination = Destination::from_request_target(rest, parts.uri.query())?;
    if let Destination::UrlGroup(name) = &destination {
        // Each fire fans out to the group's endpoints at that time; the group must exist now.
        super::url_groups::endpoints_of(app, name).await?;
    }
    let options = MessageOptions::from_headers(&parts.headers, &app.limits)?;
    super::destinations::check(app, &destination, &options)?;
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let queue_name = header("upstash-queue-name").map(str::to_string);
    if let Some(queue) = &queue_name {
        super::queues::valid_name(queue)?;
    }
    // Raw bytes, not `AppJson`: the body of each fire is opaque (any content type) and delivered as sent.
    let body = read_body(body, app.max_body_bytes).await?;
    let caller_ip = caller_ip(&parts.extensions);
    let schedule = NewSchedule::build(
        ScheduleRequest {
            id: header("upstash-schedule-id"),
            cron: header("upstash-cron"),
            destination,
            options: &options,
            body,
            caller_ip,
            queue_name: queue_name.clone(),
        },
        app.clock.now_ms(),
        &app.limits,
    )?;
    if let Some(queue) = &schedule.queue_name {
        app.store.queue_ensure(queue, schedule.now).await?;
    }
    if let Some(flow) = &schedule.flow_control {
        // The key must exist before fired messages can be claimed under it.
        super::accept::configure_flow(app, flow, schedule.now).await?;
    }
    app.store.schedule_upsert(&schedule).await?;
    app.schedule_wake.notify();
    Ok(Json(wire::ScheduleCreated {
        schedule_id: schedule.id.into_string(),
    }))
}

async fn list(State(app): State<AppState>) -> Result<Json<Vec<wire::Schedule>>, ApiError> {
    let schedules = app.store.schedule_list().await?;
    Ok(Json(render(&app, &schedules).await?))
}

async fn get_one(app: &AppState, id: &str) -> Result<Json<wire::Schedule>, ApiError> {
    let schedule = app.store.schedule_get(id).await?.ok_or_else(|| not_found(id))?;
    let mut rendered = render(app, std::slice::from_ref(&schedule)).await?;
    Ok(Json(rendered.remove(0)))
}

/// Schedule objects, with the states of the messages each one's last fire created (one query for all).
async fn render(app: &AppState, schedules: &[Schedule]) -> Result<Vec<wire::Schedule>, ApiError> {
    let ids: Vec<String> = schedules
        .iter()
        .flat_map(|s| s.last_message_ids.iter().cloned())
        .collect();
    let states = app.store.message_states(&ids).await?.into_iter().collect();
    Ok(schedules.iter().map(|s| wire::Schedule::of(s, &states)).collect())
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("schedule {id:?} not found"))
}

async fn delete(app: &AppState, id: &str) -> Result<Json<wire::Empty>, ApiError> {
    if app.store.schedule_delete(id).await? {
        Ok(Json(wire::Empty {}))
    } else {
        Err(not_found(id))
    }
}

async fn pause(app: &AppState, id: &str) -> Result<Json<wire::Empty>, ApiError> {
    if app.store.schedule_pause(id, app.clock.now_ms()).await? {
        Ok(Json(wire::Empty {}))
    } else {
        Err(not_found(id))
    }
}

/// Continues from the next slot after now: the slots passed while paused do not fire.
async fn resume(app: &AppState, id: &str) -> Result<Json<wire::Empty>, ApiError> {
    let schedule = app.store.schedule_get(id).await?.ok_or_else(|| not_found(id))?;
    let now = app.clock.now_ms();
    let next = schedule
        .cron
        .next_after(now)
        .ok_or_else(|| ScheduleError::NeverFires(schedule.cron.expression().to_string()))?;
    if !app.store.schedule_resume(id, next, now).await? {
        return Err(not_found(id));
    }
    app.schedule_wake.notify();
    Ok(Json(wire::Empty {}))
}
