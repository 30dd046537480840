//! The client side of the REST API: one bearer-authenticated request per call, answers decoded into the
//! typed wire structs, and every failure turned into a [`CliError`] that knows its exit code.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::render::{now_ms, show, Table};
use super::{CliError, Server};

/// Longest a single API call may take: every endpoint the CLI calls answers in one database round trip.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A request on its way: query pairs, headers and a body, added by the command that builds it.
pub struct Call {
    request: reqwest::RequestBuilder,
    what: String,
}

impl Client {
    pub fn new(server: &Server) -> Result<Client, CliError> {
        let base = server.url.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base)
            .map_err(|e| CliError::Usage(format!("QSTASH_URL / --server {base:?} is not a URL: {e}")))?;
        let mut builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
        // A proxy from the environment must not capture calls to a server on this machine.
        if is_loopback(&parsed) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| CliError::Transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            base,
            token: server.token.clone(),
            http,
        })
    }

    /// `method` on `path` (which starts with `/v2/`), relative to the server's base URL.
    /// `ls` of a resource the API lists whole: its JSON with `--json`, else the table `table` makes of it
    /// (or the line `empty` when there is nothing).
    pub async fn list<T: DeserializeOwned + serde::Serialize>(
        &self,
        json: bool,
        path: &str,
        table: fn(&[T], i64) -> Table,
        empty: &str,
    ) -> Result<(), CliError> {
        let rows: Vec<T> = self.get(path).send().await?;
        show(json, &rows, |rows| table(rows, now_ms()).or(empty));
        Ok(())
    }

    pub fn call(&self, method: Method, path: &str) -> Call {
        let what = format!("{method} {path}");
        let request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        Call { request, what }
    }

    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.call(Method::POST, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.call(Method::DELETE, path)
    }
}

impl Call {
    pub fn query(mut self, pairs: &[(String, String)]) -> Call {
        self.request = self.request.query(pairs);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.request = self.request.header(name, value);
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Call {
        self.request = self.request.body(body);
        self
    }

    /// A JSON body: one of the request types of [`crate::wire`].
    pub fn json(self, value: &impl serde::Serialize) -> Call {
        let bytes = serde_json::to_vec(value).expect("request bodies serialise");
        self.header("Content-Type", "application/json").body(bytes)
    }

    /// Sends the request and decodes a 2xx answer as `T`.
    pub async fn send<T: DeserializeOwned>(self) -> Result<T, CliError> {
        let what = self.what.clone();
        let bytes = self.send_raw().await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::Transport(format!(
                "{what}: the answer is not what this client expects ({e}): {}",
                String::from_utf8_lossy(&bytes)
            ))
        })
    }

    /// Sends the request and returns the body of a 2xx answer, whatever it holds.
    pub async fn send_raw(self) -> Result<Vec<u8>, CliError> {
        let response = self
            .request
            .send()
            .await
            .map_err(|e| CliError::Transport(format!("{}: {}", self.what, describe(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CliError::Transport(format!("{}: reading the answer: {e}", self.what)))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(CliError::Api {
            status: status.as_u16(),
            message: error_message(&bytes),
        })
    }
}

/// The server's `{"error": …}` message, or the body itself when it is not one (a proxy's error page).
fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<crate::wire::ErrorBody>(body) {
        Ok(parsed) => parsed.error,
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    }
}

/// reqwest's error with its causes: "error sending request" alone does not say the server is down.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if error.is_connect() {
        text.push_str(" (is Postdate running there? `postdate dev` listens on http://127.0.0.1:8080)");
    }
    text
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
