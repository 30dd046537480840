//! Where logs and traces go: log lines to stderr as text (coloured only at a terminal) or JSON, and — in a
//! build with the `otlp` feature and `--otlp-endpoint` given — every span (requests, delivery attempts) to
//! an OpenTelemetry collector over OTLP/HTTP. Span fields are ids, routes, hosts and outcomes, never a
//! token, key or header value.

use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] sends the spans still buffered.
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

/// Installs the global subscriber. Fails only when an OTLP endpoint is asked for but cannot be used.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry, String> {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines.with_ansi(std::io::stderr().is_terminal()).boxed(),
        LogFormat::Json => lines.json().with_current_span(true).with_span_list(false).boxed(),
    };
    #[cfg(feature = "otlp")]
    {
        let (spans, provider) = match otlp_endpoint {
            Some(endpoint) => {
                let (layer, provider) = otlp::layer(endpoint)?;
                (Some(layer), Some(provider))
            }
            None => (None, None),
        };
        tracing_subscriber::registry()
            .with(filter)
            .with(lines)
            .with(spans)
            .init();
        Ok(Telemetry { provider })
    }
    #[cfg(not(feature = "otlp"))]
    {
        if otlp_endpoint.is_some() {
            return Err("this build of postdate has no OTLP export: build it with `--features otlp`".into());
        }
        tracing_subscriber::registry().with(filter).with(lines).init();
        Ok(Telemetry {})
    }
}

impl Telemetry {
    /// Sends the spans still buffered (bounded by the exporter's timeout).
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("postdate: sending the last spans failed: {error}");
            }
        }
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::TracerProvider;
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::Layer;

    /// A layer exporting every span to `{endpoint}/v1/traces` (OTLP over HTTP, protobuf).
    pub fn layer<S>(endpoint: &str) -> Result<(impl Layer<S>, SdkTracerProvider), String>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url)
            .build()
            .map_err(|e| format!("--otlp-endpoint: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name("postdate")
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("postdate");
        Ok((tracing_opentelemetry::layer().with_tracer(tracer), provider))
    }
}
