//! URL groups, "topics" on the wire (spec §6): add and remove endpoints, list, get, delete.

use super::error::ApiError;
use super::request::{AppJson, PathText};
use crate::domain::destination::DestinationUrl;
use crate::domain::ids::is_path_safe;
use crate::state::AppState;
use crate::store::EndpointSelection;
use crate::wire;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/topics", get(list))
        .route("/v2/topics/{name}", get(get_one).delete(delete).patch(set_headers))
        .route(
            "/v2/topics/{name}/endpoints",
            axum::routing::post(add_endpoints).delete(remove_endpoints),
        )
}

fn group_name(name: &str) -> Result<&str, ApiError> {
    if is_path_safe(name) {
        Ok(name)
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid URL group name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// What both endpoint requests carry: the group's name from the path and the body's endpoints, each
/// checked (an empty list is refused).
struct GroupEndpoints {
    name: String,
    endpoints: Vec<wire::EndpointRequest>,
}

impl axum::extract::FromRequest<AppState> for GroupEndpoints {
    type Rejection = axum::response::Response;

    async fn from_request(request: axum::extract::Request, app: &AppState) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRequestParts;
        use axum::response::IntoResponse;
        let (mut parts, body) = request.into_parts();
        let Path(name) = Path::<String>::from_request_parts(&mut parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let request = axum::extract::Request::from_parts(parts, body);
        let checked = async {
            let AppJson(body) = AppJson::<wire::EndpointsBody>::from_request(request, app).await?;
            group_name(&name)?;
            if body.endpoints.is_empty() {
                return Err(ApiError::BadRequest("endpoints must not be empty".into()));
            }
            Ok(body.endpoints)
        };
        match checked.await {
            Ok(endpoints) => Ok(GroupEndpoints { name, endpoints }),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// Creates the group if it is missing; adds endpoints, or renames those whose URL is already there.
async fn add_endpoints(State(app): State<AppState>, group: GroupEndpoints) -> Result<Json<wire::Empty>, ApiError> {
    let name = group.name.as_str();
    let mut endpoints: Vec<(String, Option<String>)> = Vec::new();
    for endpoint in group.endpoints {
        let url = endpoint
            .url
            .ok_or_else(|| ApiError::BadRequest("every endpoint needs a url".into()))?;
        let url = DestinationUrl::parse(&url)?;
        super::destinations::check_url(&app, &url)?;
        if let Some(endpoint_name) = endpoint.name.as_deref().filter(|n| !is_path_safe(n)) {
            return Err(ApiError::BadRequest(format!("invalid endpoint name {endpoint_name:?}")));
        }
        // A URL given twice keeps its last name.
        endpoints.retain(|(u, _)| u != url.as_str());
        endpoints.push((url.as_str().to_string(), endpoint.name));
    }
    check_endpoint_count(&app, name, &endpoints).await?;
    app.store
        .url_group_upsert_endpoints(name, &endpoints, app.clock.now_ms())
        .await?;
    Ok(Json(wire::Empty {}))
}

/// Refuses an addition that would take the group past `--max-group-endpoints`: every publish to a group
/// holds one message per endpoint in memory.
async fn check_endpoint_count(app: &AppState, name: &str, adding: &[(String, Option<String>)]) -> Result<(), ApiError> {
    let max = app.request_limits.max_group_endpoints;
    let mut urls: std::collections::HashSet<String> = match app.store.url_group_get(name).await? {
        Some(group) => group.endpoints.into_iter().map(|e| e.url).collect(),
        None => Default::default(),
    };
    urls.extend(adding.iter().map(|(url, _)| url.clone()));
    if urls.len() > max {
        return Err(ApiError::BadRequest(format!(
            "URL group {name:?} would have {} endpoints; at most {max} per group \
             (--max-group-endpoints / POSTDATE_MAX_GROUP_ENDPOINTS)",
            urls.len()
        )));
    }
    Ok(())
}

/// Removes endpoints named by URL or name; a group left empty is deleted.
async fn remove_endpoints(State(app): State<AppState>, group: GroupEndpoints) -> Result<Json<wire::Empty>, ApiError> {
    let name = group.name.as_str();
    let mut removed = EndpointSelection::default();
    for endpoint in group.endpoints {
        match (endpoint.url, endpoint.name) {
            (None, None) => return Err(ApiError::BadRequest("every endpoint needs a url or a name".into())),
            (url, endpoint_name) => {
                removed.urls.extend(url);
                removed.names.extend(endpoint_name);
            }
        }
    }
    match app
        .store
        .url_group_remove_endpoints(name, &removed, app.clock.now_ms())
        .await?
    {
        Some(()) => Ok(Json(wire::Empty {})),
        None => Err(not_found(name)),
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("URL group {name:?} does not exist"))
}

async fn list(State(app): State<AppState>) -> Result<Json<Vec<wire::UrlGroup>>, ApiError> {
    let groups = app.store.url_group_list().await?;
    Ok(Json(groups.iter().map(wire::UrlGroup::from).collect()))
}

async fn get_one(State(app): State<AppState>, PathText(name): PathText) -> Result<Json<wire::UrlGroup>, ApiError> {
    match app.store.url_group_get(&name).await? {
        Some(group) => Ok(Json(wire::UrlGroup::from(&group))),
        None => Err(not_found(&name)),
    }
}

/// Sets the group's default headers (webhook-receiver mode), checked as a publish would read them: an
/// `Upstash-*` name must be an option with a value that parses, any other must be forwardable. 404 when the
/// group does not exist (it is created by adding endpoints).
async fn set_headers(
    State(app): State<AppState>,
    PathText(name): PathText,
    AppJson(body): AppJson<wire::GroupHeadersBody>,
) -> Result<Json<wire::UrlGroup>, ApiError> {
    group_name(&name)?;
    let headers: crate::domain::headers::HeaderMap = body
        .headers
        .into_iter()
        .map(|(header, values)| (crate::domain::headers::canonical_name(&header), values.into_vec()))
        .collect();
    crate::domain::webhook::check_group_headers(&headers)?;
    // The options must read as they would on a publish (a bad Upstash-Retries is refused now, not later),
    // and a default callback must pass the destination policy.
    let mut as_request = http::HeaderMap::new();
    crate::domain::webhook::add_group_defaults(&mut as_request, &headers);
    let options = crate::domain::options::MessageOptions::from_headers(&as_request, &app.limits)?;
    for callback in [&options.callback, &options.failure_callback].into_iter().flatten() {
        super::destinations::check_url(&app, &DestinationUrl::parse(&callback.url)?)?;
    }
    if !app
        .store
        .url_group_set_headers(&name, &headers, app.clock.now_ms())
        .await?
    {
        return Err(not_found(&name));
    }
    let group = app.store.url_group_get(&name).await?.ok_or_else(|| not_found(&name))?;
    Ok(Json(wire::UrlGroup::from(&group)))
}

/// Idempotent: deleting a group that does not exist succeeds too. Messages already accepted keep going.
async fn delete(State(app): State<AppState>, PathText(name): PathText) -> Result<Json<wire::Empty>, ApiError> {
    app.store.url_group_delete(&name).await?;
    Ok(Json(wire::Empty {}))
}

/// The endpoints of a group to fan out to, or 404 when it does not exist or has none.
pub async fn endpoints_of(app: &AppState, name: &str) -> Result<Vec<(DestinationUrl, Option<String>)>, ApiError> {
    let group = app.store.url_group_get(name).await?.ok_or_else(|| not_found(name))?;
    let endpoints: Vec<_> = group
        .endpoints
        .into_iter()
        .filter_map(|e| Some((DestinationUrl::parse(&e.url).ok()?, e.name)))
        .collect();
    if endpoints.is_empty() {
        return Err(ApiError::NotFound(format!("URL group {name:?} has no endpoints")));
    }
    Ok(endpoints)
}
