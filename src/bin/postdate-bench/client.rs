//! Publishing to the Postdate under test: single requests to `/v2/publish` or arrays to `/v2/batch`.

use serde_json::json;

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    /// The receiver's URL every message goes to.
    pub hook: String,
    /// Bodies are padded to this many bytes (a number alone when smaller).
    pub body_bytes: usize,
    /// Headers every publish carries besides its own (e.g. `Upstash-Retries: 0` for the failing path).
    pub extra_headers: Vec<(String, String)>,
}

impl Client {
    pub fn new(base: &str, token: &str, hook: &str) -> Client {
        Client {
            http: reqwest::Client::builder().pool_max_idle_per_host(512).build().unwrap(),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            hook: hook.to_string(),
            body_bytes: 0,
            extra_headers: Vec::new(),
        }
    }

    /// The same server and token, delivering to `hook` instead, with bodies padded to `body_bytes`.
    pub fn to(&self, hook: &str, body_bytes: usize) -> Client {
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            token: self.token.clone(),
            hook: hook.to_string(),
            body_bytes,
            extra_headers: self.extra_headers.clone(),
        }
    }

    /// The body of message `n`: its number, padded after a space to `body_bytes`.
    fn body(&self, n: u64) -> String {
        let mut body = n.to_string();
        if self.body_bytes > body.len() + 1 {
            body.push(' ');
            let pad = self.body_bytes - body.len();
            body.push_str(&"x".repeat(pad));
        }
        body
    }

    /// Publishes message number `n` on its own; true when it was accepted.
    pub async fn publish(&self, n: u64, delay: Option<&str>) -> bool {
        self.publish_to(&self.hook, n, delay, &[]).await
    }

    /// Publishes message number `n` to `url` with extra `headers`; true when it was accepted.
    pub async fn publish_to(&self, url: &str, n: u64, delay: Option<&str>, headers: &[(&str, &str)]) -> bool {
        let mut request = self
            .http
            .post(format!("{}/v2/publish/{url}", self.base))
            .bearer_auth(&self.token)
            .body(self.body(n));
        if let Some(delay) = delay {
            request = request.header("Upstash-Delay", delay);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        for (name, value) in &self.extra_headers {
            request = request.header(name, value);
        }
        matches!(request.send().await, Ok(r) if r.status().is_success())
    }

    /// Publishes message numbers `range` to these destinations (one each, in order) in one `/v2/batch`
    /// request, each with `delay`; true when all were accepted.
    pub async fn publish_batch_to<'a>(
        &self,
        destinations: impl Iterator<Item = &'a str>,
        range: std::ops::Range<u64>,
        delay: &str,
    ) -> bool {
        let items: Vec<_> = destinations
            .zip(range)
            .map(|(url, n)| json!({ "destination": url, "body": self.body(n), "headers": { "Upstash-Delay": delay } }))
            .collect();
        self.send_batch(&items).await
    }

    /// Sends one `/v2/batch` request; true when every item was accepted.
    async fn send_batch(&self, items: &[serde_json::Value]) -> bool {
        let request = self
            .http
            .post(format!("{}/v2/batch", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(items).unwrap());
        matches!(request.send().await, Ok(r) if r.status().is_success())
    }

    /// Publishes message numbers `range` in one `/v2/batch` request; true when all were accepted.
    pub async fn publish_batch(&self, range: std::ops::Range<u64>, delay: Option<&str>) -> bool {
        let mut headers = match delay {
            Some(delay) => json!({ "Upstash-Delay": delay }),
            None => json!({}),
        };
        for (name, value) in &self.extra_headers {
            headers[name] = json!(value);
        }
        let items: Vec<_> = range
            .map(|n| json!({ "destination": self.hook, "body": self.body(n), "headers": headers }))
            .collect();
        self.send_batch(&items).await
    }

    /// Publishes message numbers `range`: one request when `batch` is more than one, else one each.
    pub async fn publish_range(&self, range: std::ops::Range<u64>, batch: bool, delay: Option<&str>) -> u64 {
        if batch {
            let len = range.end - range.start;
            return if self.publish_batch(range, delay).await { 0 } else { len };
        }
        let mut failed = 0;
        for n in range {
            failed += u64::from(!self.publish(n, delay).await);
        }
        failed
    }
}
