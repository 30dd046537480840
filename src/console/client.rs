//! The console's way to the API: requests answered in-process by the `/v2` router with the server's own
//! token, so reads and actions go through exactly the code the SDKs reach.

use serde_json::Value;

use super::layout::Refusal;
use crate::state::AppState;

/// An answer the API gave: its status and JSON body.
pub struct Answer {
    pub status: http::StatusCode,
    pub json: Value,
}

impl Answer {
    /// The error message of a refused request, if it was refused.
    pub fn error(&self) -> Option<String> {
        (!self.status.is_success()).then(|| {
            self.json["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("the API answered {}", self.status))
        })
    }

    /// The body of a successful answer, or an error page with the API's status and message.
    pub fn ok(self) -> Result<Value, Refusal> {
        match self.error() {
            None => Ok(self.json),
            Some(message) => Err(Refusal(self.status, message)),
        }
    }

    /// The body of a successful answer to `target` as one of the [`crate::wire`] types, or an error page.
    pub fn ok_as<T: serde::de::DeserializeOwned>(self, target: &str) -> Result<T, Refusal> {
        serde_json::from_value(self.ok()?).map_err(|error| {
            Refusal(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("the answer to {target} is not what the console expects: {error}"),
            )
        })
    }
}

/// One API request: `target` is the path and query (a destination URL in it stays raw, as the SDKs send it).
pub async fn call(
    app: &AppState,
    method: http::Method,
    target: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Answer {
    call_from(app, None, method, target, headers, body).await
}

/// As [`call`], on behalf of the browser at `caller`: a message it publishes records that address as its
/// caller IP, as if the browser had called the API itself.
pub async fn call_from(
    app: &AppState,
    caller: Option<std::net::SocketAddr>,
    method: http::Method,
    target: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Answer {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(target)
        .header(http::header::AUTHORIZATION, format!("Bearer {}", app.token));
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(caller) = caller {
        builder = builder.extension(axum::extract::ConnectInfo(caller));
    }
    let request = match builder.body(axum::body::Body::from(body)) {
        Ok(request) => request,
        Err(error) => {
            return Answer {
                status: http::StatusCode::BAD_REQUEST,
                json: serde_json::json!({ "error": format!("invalid request: {error}") }),
            }
        }
    };
    let response = crate::api::call(app, request).await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    Answer {
        status,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A GET answered with one of the [`crate::wire`] types; a failure becomes an error page.
pub async fn get_as<T: serde::de::DeserializeOwned>(app: &AppState, target: &str) -> Result<T, Refusal> {
    call(app, http::Method::GET, target, &[], Vec::new())
        .await
        .ok_as(target)
}

/// Percent-encodes one query value or path segment.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A store failure as an error page (the overview reads the store's counts directly).
pub fn store_failure(error: crate::store::StoreError) -> Refusal {
    let error = crate::api::error::ApiError::from(error);
    tracing::error!(%error, "the console could not read the store's counts");
    Refusal(error.status(), error.to_string())
}

/// The browser's address, where the server knows it (it does for every connection it serves).
pub struct Caller(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let connection = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Caller(connection.map(|info| info.0)))
    }
}
