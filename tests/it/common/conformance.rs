//! Every answer the tests receive from `/v2` is checked against the OpenAPI document the server serves: the
//! operation (path and method) must be documented, the status documented for it, and a JSON body must
//! match that status's schema. [`ApiRequest`] is what `TestApp::request` hands out, so a test cannot
//! forget; SDK-driven tests go around it (they speak to the server directly).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// A request builder whose `send` checks the answer against the document.
pub struct ApiRequest(reqwest::RequestBuilder);

impl ApiRequest {
    pub fn new(builder: reqwest::RequestBuilder) -> ApiRequest {
        ApiRequest(builder)
    }

    pub fn header<K, V>(self, key: K, value: V) -> ApiRequest
    where
        http::HeaderName: TryFrom<K>,
        <http::HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        http::HeaderValue: TryFrom<V>,
        <http::HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        ApiRequest(self.0.header(key, value))
    }

    pub fn body<T: Into<reqwest::Body>>(self, body: T) -> ApiRequest {
        ApiRequest(self.0.body(body))
    }

    pub fn json<T: serde::Serialize + ?Sized>(self, json: &T) -> ApiRequest {
        ApiRequest(self.0.json(json))
    }

    pub fn bearer_auth<T: std::fmt::Display>(self, token: T) -> ApiRequest {
        ApiRequest(self.0.bearer_auth(token))
    }

    /// Sends the request, reads the whole answer, checks it, and hands it back as it came.
    pub async fn send(self) -> reqwest::Result<reqwest::Response> {
        let (client, request) = self.0.build_split();
        let request = request?;
        let method = request.method().clone();
        let path = request.url().path().to_string();
        let response = client.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let version = response.version();
        let bytes = response.bytes().await?;
        if path.starts_with("/v2") {
            document().check(&method, &path, status.as_u16(), &headers, &bytes);
        }
        let mut rebuilt = http::Response::new(bytes);
        *rebuilt.status_mut() = status;
        *rebuilt.headers_mut() = headers;
        *rebuilt.version_mut() = version;
        Ok(reqwest::Response::from(rebuilt))
    }
}

/// The compiled document: each operation's responses by status.
pub struct Document {
    operations: Vec<Operation>,
    /// A 404 or 405 from outside any documented operation (the router's fallbacks) is still an error body.
    error: jsonschema::Validator,
}

struct Operation {
    method: String,
    template: Vec<Segment>,
    /// Status → the schema of its JSON body (`None`: no JSON body documented).
    responses: HashMap<String, Option<jsonschema::Validator>>,
}

#[derive(PartialEq)]
enum Segment {
    Literal(String),
    Parameter,
    /// `{destination}` takes the rest of the path: a URL keeps its slashes.
    Rest,
}

pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| Document::compile(&serde_json::to_value(postdate::api::openapi::document()).unwrap()))
}

impl Document {
    pub fn compile(doc: &Value) -> Document {
        let mut components = doc["components"].clone();
        if let Some(schemas) = components["schemas"].as_object_mut() {
            // A component may be a part of another (`allOf`): only the places that use it are closed.
            for schema in schemas.values_mut() {
                close_children(schema);
            }
        }
        // Schemas refer to `#/components/schemas/…`: each one is compiled with the components beside it.
        let validator = |schema: &Value| {
            let mut schema = schema.clone();
            close(&mut schema);
            let schema = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": components,
                "allOf": [schema],
            });
            jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("the document's schema {schema} compiles: {e}"))
        };
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(status, response)| {
                        let response = resolve(doc, response);
                        let schema = &response["content"]["application/json"]["schema"];
                        (status.clone(), (!schema.is_null()).then(|| validator(schema)))
                    })
                    .collect();
                operations.push(Operation {
                    method: method.to_ascii_uppercase(),
                    template: segments(path),
                    responses,
                });
            }
        }
        let error = validator(&json!({ "$ref": "#/components/schemas/ErrorBody" }));
        Document { operations, error }
    }

    /// Panics, failing the test, when the answer is not what the document says.
    pub fn check(&self, method: &http::Method, path: &str, status: u16, headers: &http::HeaderMap, body: &[u8]) {
        let what = format!("{method} {path} answered {status}");
        let candidates: Vec<&Operation> = self.operations.iter().filter(|o| o.matches(path)).collect();
        // The most literal template wins (`/v2/schedules/{id}/pause` over `/v2/schedules/{destination}`).
        let operation = candidates
            .iter()
            .filter(|o| o.method == method.as_str())
            .max_by_key(|o| o.template.iter().filter(|s| matches!(s, Segment::Literal(_))).count());
        let Some(operation) = operation else {
            // A method the path does not have, or no such path: the router's 405 or 404, with an error body.
            assert!(
                matches!(status, 404 | 405 | 401),
                "{what}, but the OpenAPI document has no such operation (document it in src/api/openapi/paths)"
            );
            self.check_json(&self.error, &what, headers, body);
            return;
        };
        let schema = operation
            .responses
            .get(&status.to_string())
            .unwrap_or_else(|| panic!("{what}, a status the OpenAPI document does not list for it"));
        if let Some(schema) = schema {
            self.check_json(schema, &what, headers, body);
        }
    }

    fn check_json(&self, schema: &jsonschema::Validator, what: &str, headers: &http::HeaderMap, body: &[u8]) {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{what} with Content-Type {content_type:?}, not JSON"
        );
        let value: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "{what} with a body that is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        });
        let errors: Vec<String> = schema
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} with a body that does not match the OpenAPI document:\n  {}\nbody: {value}",
            errors.join("\n  ")
        );
    }
}

impl Operation {
    fn matches(&self, path: &str) -> bool {
        let mut parts = path.trim_start_matches('/').split('/');
        for segment in &self.template {
            match segment {
                Segment::Rest => return parts.next().is_some_and(|p| !p.is_empty()),
                Segment::Parameter => {
                    if parts.next().is_none_or(|p| p.is_empty()) {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if parts.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(|s| match s {
            "{destination}" => Segment::Rest,
            s if s.starts_with('{') => Segment::Parameter,
            s => Segment::Literal(s.to_string()),
        })
        .collect()
}

/// Refuses properties the document does not name, in `schema` and below: an answer with an undocumented field
/// fails (`unevaluatedProperties` sees through `$ref` and `allOf`, so parts of a type stay open).
fn close(schema: &mut Value) {
    if let Some(object) = schema.as_object_mut() {
        let describes_object =
            object.contains_key("$ref") || object.contains_key("allOf") || object.contains_key("properties");
        if describes_object && !object.contains_key("additionalProperties") {
            object.insert("unevaluatedProperties".into(), Value::Bool(false));
        }
    }
    close_children(schema);
}

/// [`close`] below `schema` but not on it; the parts of an `allOf` stay open, their own children are closed.
fn close_children(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    for (key, child) in object.iter_mut() {
        match (key.as_str(), child) {
            ("properties", Value::Object(properties)) => properties.values_mut().for_each(close),
            ("allOf", Value::Array(parts)) => parts.iter_mut().for_each(close_children),
            ("oneOf" | "anyOf", Value::Array(options)) => options.iter_mut().for_each(close),
            ("items" | "additionalProperties", child @ Value::Object(_)) => close(child),
            _ => {}
        }
    }
}

/// A response, or the component it refers to.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(reference) => doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("the document has {reference}")),
        None => response,
    }
}
