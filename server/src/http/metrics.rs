//! `/metrics` in Prometheus' text format (the `prometheus-client` crate):
//! requests and their latency per route, method and status; sessions
//! created; rate-limit rejections; mail sent and failed; the password-hash
//! queue's depth. The counters are the process's (one registry, however
//! many servers it embeds). Routes are labelled by their spec template
//! (`/reset-password/{token}`), so a token in a path never becomes a label
//! and the label set stays bounded.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::LazyLock;

use poem::http::StatusCode;
use poem::{Request, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub sessions_created: Counter,
    pub rate_limited: Counter,
    pub mail_sent: Counter,
    pub mail_failed: Counter,
    pub hash_queue_depth: Gauge<i64, AtomicI64>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
        let mut registry = Registry::with_prefix("gatehouse");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let sessions_created = Counter::default();
        let rate_limited = Counter::default();
        let mail_sent = Counter::default();
        let mail_failed = Counter::default();
        let hash_queue_depth = Gauge::<i64, AtomicI64>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, headers to response",
            latency.clone(),
        );
        registry.register(
            "sessions_created",
            "Sessions created",
            sessions_created.clone(),
        );
        registry.register(
            "rate_limit_rejections",
            "Requests refused by the rate limiter (429)",
            rate_limited.clone(),
        );
        registry.register(
            "mail_sent",
            "Mails handed to the SMTP server",
            mail_sent.clone(),
        );
        registry.register(
            "mail_failed",
            "Mails that could not be sent",
            mail_failed.clone(),
        );
        registry.register(
            "password_hash_queue_depth",
            "Password hashes waiting for or running on a worker",
            hash_queue_depth.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            sessions_created,
            rate_limited,
            mail_sent,
            mail_failed,
            hash_queue_depth,
        }
    });
    &METRICS
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn observe(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(seconds);
    }
}

/// Request paths to the spec's route templates.
pub struct RouteTemplates {
    literal: HashMap<String, String>,
    /// Templates with parameters, as segments (`None`: a parameter).
    templated: Vec<(Vec<Option<String>>, String)>,
}

impl RouteTemplates {
    pub fn from_spec(spec: &str) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut literal = HashMap::new();
        let mut templated = Vec::new();
        for path in spec["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(p, _)| p)
        {
            if path.contains('{') {
                let segments = path
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                    .collect();
                templated.push((segments, path.clone()));
            } else {
                literal.insert(path.clone(), path.clone());
            }
        }
        RouteTemplates { literal, templated }
    }

    /// The template `path` (under the base path) matches; `other` for none.
    pub fn label<'a>(&'a self, path: &str) -> &'a str {
        if let Some(p) = self.literal.get(path) {
            return p;
        }
        let segments: Vec<&str> = path.split('/').collect();
        self.templated
            .iter()
            .find(|(t, _)| {
                t.len() == segments.len()
                    && t.iter()
                        .zip(&segments)
                        .all(|(a, b)| a.as_deref().is_none_or(|a| a == *b))
            })
            .map_or("other", |(_, p)| p.as_str())
    }
}

/// `GET /metrics`; with `[server] metrics_token`, only for
/// `Authorization: Bearer <token>`.
pub fn endpoint(token: Option<String>) -> poem::endpoint::BoxEndpoint<'static> {
    use poem::EndpointExt;
    poem::endpoint::make(move |req: Request| {
        let token = token.clone();
        async move {
            if let Some(expected) = &token {
                let presented = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default();
                let same: bool =
                    subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), expected.as_bytes()).into();
                if !same {
                    return Response::builder()
                        .status(StatusCode::UNAUTHORIZED)
                        .finish();
                }
            }
            Response::builder()
                .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
                .header("cache-control", "no-store")
                .body(global().encode())
        }
    })
    .map_to_response()
    .boxed()
}
