//! Prometheus metrics: what the event loop counts ([`ServerMetrics`]: connections, bytes,
//! request latency) and what the broker counts and holds (requests, response errors, partition
//! logs, consumer lag), rendered together by [`render`] for `GET /metrics`.
//!
//! With the metrics listener off, every count is one predictable branch and nothing is read
//! from the clock; with it on, a response costs one clock read and a histogram update, and
//! nothing is allocated per request. The README lists every metric.

mod histogram;
pub mod text;

use std::borrow::Cow;

use blazemq_core::ErrorCode;
use blazemq_core::broker::{Broker, CommittedOffset, RequestStamp};
use blazemq_core::codec::ApiKey;
use blazemq_core::storage::Storage;
use blazemq_platform::Clock;

use histogram::Histogram;
use text::{Exposition, Kind};

/// Api keys with a latency histogram of their own; responses to others are not timed (the
/// broker answers no such key but with a closed connection, or ApiVersions' v0 answer).
const API_KEYS_TIMED: usize = 96;

/// What the event loop counts.
#[derive(Debug)]
pub struct ServerMetrics {
    enabled: bool,
    /// When the process started, for uptime.
    started: std::time::Instant,
    /// The same, in seconds since the Unix epoch (`process_start_time_seconds`).
    started_unix_seconds: f64,
    /// How long recovering the logs took at this start.
    recovery_seconds: f64,
    connections_opened: u64,
    connections_closed: u64,
    received_bytes: u64,
    sent_bytes: u64,
    /// Request latency by api key; empty (unallocated) when off.
    latency: Box<[Histogram]>,
}

impl ServerMetrics {
    /// Metrics counted if `enabled`; `started` and `started_unix_ms` are the process's start,
    /// `recovery` how long the broker took to recover its logs.
    pub fn new(
        enabled: bool,
        started: std::time::Instant,
        started_unix_ms: i64,
        recovery: std::time::Duration,
    ) -> Self {
        let latency = if enabled {
            vec![Histogram::default(); API_KEYS_TIMED].into_boxed_slice()
        } else {
            Box::default()
        };
        ServerMetrics {
            enabled,
            started,
            started_unix_seconds: started_unix_ms as f64 / 1000.0,
            recovery_seconds: recovery.as_secs_f64(),
            connections_opened: 0,
            connections_closed: 0,
            received_bytes: 0,
            sent_bytes: 0,
            latency,
        }
    }

    /// Nothing counted: for a broker run without the metrics listener.
    pub fn off() -> Self {
        Self::new(
            false,
            std::time::Instant::now(),
            0,
            std::time::Duration::ZERO,
        )
    }

    /// A client connection was accepted and registered.
    #[inline]
    pub fn connection_opened(&mut self) {
        if self.enabled {
            self.connections_opened += 1;
        }
    }

    /// A registered client connection was closed.
    #[inline]
    pub fn connection_closed(&mut self) {
        if self.enabled {
            self.connections_closed += 1;
        }
    }

    /// `n` bytes were read from a client.
    #[inline]
    pub fn received(&mut self, n: usize) {
        if self.enabled {
            self.received_bytes += n as u64;
        }
    }

    /// `n` bytes were written to a client.
    #[inline]
    pub fn sent(&mut self, n: usize) {
        if self.enabled {
            self.sent_bytes += n as u64;
        }
    }

    /// A response to `request` was queued for its connection now (`clock`, the broker's).
    #[inline]
    pub fn response_queued(&mut self, request: &RequestStamp, clock: &Clock) {
        if !self.enabled {
            return;
        }
        let Some(h) = usize::try_from(request.api_key)
            .ok()
            .and_then(|k| self.latency.get_mut(k))
        else {
            return;
        };
        let now = clock.now_nanos();
        h.observe(now.saturating_sub(request.received.as_nanos()));
    }
}

/// The answer to `GET /metrics` (HEAD too, as HTTP asks); `None` for any other request.
pub fn route<S: Storage>(
    request: &crate::http::Request<'_>,
    broker: &Broker<S>,
    server: &ServerMetrics,
) -> Option<crate::http::Response> {
    use crate::http::Method;
    if request.path != "/metrics" || !matches!(request.method, Method::Get | Method::Head) {
        return None;
    }
    let mut body = String::new();
    render(broker, server, &mut body);
    Some(crate::http::Response::new(
        200,
        text::CONTENT_TYPE,
        body.into_bytes(),
    ))
}

/// Everything, in the text exposition format: the broker's counters and state, then the
/// event loop's.
pub fn render<S: Storage>(broker: &Broker<S>, server: &ServerMetrics, out: &mut String) {
    let mut w = Exposition::new(out);
    render_requests(broker, server, &mut w);
    render_logs(broker, &mut w);
    render_lag(broker, &mut w);
    render_server(server, &mut w);
}

/// An api key's label: Kafka's name, or the number of a key it does not name.
fn api_label(key: i16) -> Cow<'static, str> {
    match ApiKey::from_code(key) {
        ApiKey::Unknown(k) => Cow::Owned(k.to_string()),
        known => Cow::Borrowed(known.name()),
    }
}

/// An error code's label: Kafka's name, or the number of a code it does not name.
fn error_label(code: i16) -> Cow<'static, str> {
    match ErrorCode::from_code(code) {
        ErrorCode::Unknown(c) => Cow::Owned(c.to_string()),
        known => Cow::Borrowed(known.name()),
    }
}

fn render_requests<S: Storage>(broker: &Broker<S>, server: &ServerMetrics, w: &mut Exposition) {
    let name = "blazemq_requests_total";
    w.family(name, "Requests received, by API.", Kind::Counter);
    for (key, n) in broker.request_counts() {
        w.sample(name, &[("api", &api_label(key))], n);
    }
    let name = "blazemq_response_errors_total";
    w.family(
        name,
        "Error codes in responses (top level, per topic and per partition), by API and error.",
        Kind::Counter,
    );
    for (key, code, n) in broker.error_counts() {
        let labels = [("api", &*api_label(key)), ("error", &*error_label(code))];
        w.sample(name, &labels, n);
    }
    let name = "blazemq_request_duration_seconds";
    histogram::family(
        w,
        name,
        "Time from a request's last byte read to its response queued, parked waits included.",
    );
    for (key, h) in server.latency.iter().enumerate() {
        if h.count() > 0 {
            h.render(w, name, &[("api", &api_label(key as i16))]);
        }
    }
}

fn render_logs<S: Storage>(broker: &Broker<S>, w: &mut Exposition) {
    let families = [
        (
            "blazemq_partition_log_start_offset",
            "The first offset a partition's log holds.",
        ),
        (
            "blazemq_partition_high_watermark",
            "The offset of a partition's next record (its log end; one replica).",
        ),
        (
            "blazemq_partition_size_bytes",
            "The bytes a partition's log segments hold.",
        ),
    ];
    for (i, (name, help)) in families.into_iter().enumerate() {
        w.family(name, help, Kind::Gauge);
        for p in broker.partition_snapshots() {
            let partition = p.partition.to_string();
            let labels = [("topic", p.topic), ("partition", partition.as_str())];
            match i {
                0 => w.sample(name, &labels, p.log_start_offset),
                1 => w.sample(name, &labels, p.high_watermark),
                _ => w.sample(name, &labels, p.size_bytes),
            }
        }
    }
}

fn render_lag<S: Storage>(broker: &Broker<S>, w: &mut Exposition) {
    type Value = fn(&CommittedOffset<'_>) -> Option<i64>;
    let families: [(&str, &str, Value); 2] = [
        (
            "blazemq_consumer_group_committed_offset",
            "A group's committed offset of a partition.",
            |c| Some(c.committed_offset),
        ),
        (
            "blazemq_consumer_group_lag",
            "Records a group has yet to consume: high watermark minus committed offset.",
            |c| c.lag(),
        ),
    ];
    for (name, help, value) in families {
        w.family(name, help, Kind::Gauge);
        for c in broker.committed_offsets() {
            let Some(v) = value(&c) else { continue };
            let partition = c.partition.to_string();
            let labels = [
                ("group", c.group),
                ("topic", c.topic),
                ("partition", &partition),
            ];
            w.sample(name, &labels, v);
        }
    }
}

fn render_server(server: &ServerMetrics, w: &mut Exposition) {
    let counters: [(&str, &str, u64); 3] = [
        (
            "blazemq_network_received_bytes_total",
            "Bytes read from clients.",
            server.received_bytes,
        ),
        (
            "blazemq_network_sent_bytes_total",
            "Bytes written to clients.",
            server.sent_bytes,
        ),
        (
            "blazemq_connections_opened_total",
            "Client connections accepted.",
            server.connections_opened,
        ),
    ];
    for (name, help, v) in counters {
        w.family(name, help, Kind::Counter);
        w.sample(name, &[], v);
    }
    let name = "blazemq_connections";
    w.family(name, "Client connections open now.", Kind::Gauge);
    let open = server
        .connections_opened
        .saturating_sub(server.connections_closed);
    w.sample(name, &[], open);
    let name = "blazemq_storage_errors_total";
    w.family(
        name,
        "Storage operations the OS failed, by kind.",
        Kind::Counter,
    );
    for (kind, n) in crate::storage::storage_error_counts() {
        w.sample(name, &[("kind", kind)], n);
    }
    let gauges: [(&str, &str, f64); 3] = [
        (
            "blazemq_recovery_duration_seconds",
            "How long recovering the logs took at the last start.",
            server.recovery_seconds,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            server.started_unix_seconds,
        ),
        (
            "blazemq_uptime_seconds",
            "Time since the process started.",
            server.started.elapsed().as_secs_f64(),
        ),
    ];
    for (name, help, v) in gauges {
        w.family(name, help, Kind::Gauge);
        w.sample(name, &[], v);
    }
}

#[cfg(test)]
mod tests;
