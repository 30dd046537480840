//! Runs the official SDKs (installed by scripts/test) as real clients and receivers.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy)]
pub enum Sdk {
    Js,
    Python,
}

impl Sdk {
    /// The SDK, unless it is not installed: then the test is skipped loudly, or fails where SDKs are
    /// required (scripts/test sets POSTDATE_REQUIRE_SDKS=1).
    pub fn available(self) -> Option<Sdk> {
        let var = match self {
            Sdk::Js => "POSTDATE_SDK_NODE",
            Sdk::Python => "POSTDATE_SDK_PYTHON",
        };
        if std::env::var(var).is_ok() {
            return Some(self);
        }
        if std::env::var("POSTDATE_REQUIRE_SDKS").as_deref() == Ok("1") {
            panic!("POSTDATE_REQUIRE_SDKS=1 but {var} is not set");
        }
        eprintln!("SKIPPED: {self:?} SDK checks ({var} is not set; run ./scripts/test)");
        None
    }

    /// Runs `verify` or `client` with `input` on stdin and returns its JSON output.
    pub fn run(self, script: &str, input: &Value) -> Value {
        let repo = env!("CARGO_MANIFEST_DIR");
        let mut command = match self {
            Sdk::Js => {
                let dir = std::env::var("POSTDATE_SDK_NODE").unwrap();
                let mut c = Command::new("node");
                c.arg(format!("{dir}/{script}.mjs"));
                c
            }
            Sdk::Python => {
                let python = std::env::var("POSTDATE_SDK_PYTHON").unwrap();
                let mut c = Command::new(python);
                c.arg(format!("{repo}/tests/sdk/py/{script}.py"));
                c
            }
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {self:?} SDK script: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{self:?} {script} failed: {}\nstdout: {stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{self:?} {script} printed no JSON ({e}): {stdout}"))
    }

    /// Verifies each (signature, body, url) with the SDK's own Receiver; returns ok per case.
    pub fn verify(self, current: &str, next: &str, cases: &[(String, String, Option<String>)]) -> Vec<Value> {
        self.verify_with("verify", current, next, cases)
    }

    /// As [`Sdk::verify`], with `script`: `verify` (the SDK's Receiver) or `readme_verify` (the README's
    /// JWT-library verifier, in this SDK's language).
    pub fn verify_with(
        self,
        script: &str,
        current: &str,
        next: &str,
        cases: &[(String, String, Option<String>)],
    ) -> Vec<Value> {
        let cases: Vec<Value> = cases
            .iter()
            .map(|(signature, body, url)| json!({"signature": signature, "body": body, "url": url}))
            .collect();
        let out = self.run(
            script,
            &json!({"currentSigningKey": current, "nextSigningKey": next, "cases": cases}),
        );
        out.as_array().expect("verify prints an array").clone()
    }

    /// Runs SDK client calls against a server; returns one result object per call.
    pub fn client(self, base_url: &str, token: &str, calls: Value) -> Vec<Value> {
        let out = self.run("client", &json!({"baseUrl": base_url, "token": token, "calls": calls}));
        out.as_array().expect("client prints an array").clone()
    }
}
