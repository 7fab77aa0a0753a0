//! [`Metrics`]: how long each measured operation takes, counted in the process and published
//! twice: to Redis once a second by [`MetricsFlusher`] (the hash `<prefix>metrics:<operation>`,
//! docs/services.md), and in the Prometheus text format for `/metrics`.
//!
//! Recording is a lock and a few additions: never a Redis write per request.

pub use flusher::MetricsFlusher;
pub use scraper::{MetricsScraper, Scrape};

mod flusher;
mod scraper;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The operations measured, each with its own timeout (its histogram's range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A request through the gateway, from its push to its answer.
    Gateway,
    /// A worker handling a request.
    Worker,
    /// One step of a mover: a script moving messages, or vpush's delivery of one.
    Mover,
    /// A request through the proxy, until its answer's head.
    Proxy,
    /// A key-value operation, on the main or through a forwarder.
    Kvs,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::Gateway,
        Operation::Worker,
        Operation::Mover,
        Operation::Proxy,
        Operation::Kvs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Gateway => "gateway",
            Operation::Worker => "worker",
            Operation::Mover => "mover",
            Operation::Proxy => "proxy",
            Operation::Kvs => "kvs",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Ten buckets over an operation's timeout, and the ones past it.
const BUCKETS: usize = 10;

/// What was measured of one operation since the last flush.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    pub count: u64,
    pub sum_ms: f64,
    pub max_ms: f64,
    pub buckets: [u64; BUCKETS],
    pub over: u64,
}

impl Window {
    fn add(&mut self, elapsed_ms: f64, timeout_ms: f64) {
        self.count += 1;
        self.sum_ms += elapsed_ms;
        self.max_ms = self.max_ms.max(elapsed_ms);
        let bucket = (elapsed_ms / timeout_ms * BUCKETS as f64) as usize;
        match self.buckets.get_mut(bucket) {
            Some(count) => *count += 1,
            None => self.over += 1,
        }
    }

    /// Another window's counts added to this one (a flush that failed is kept for the next).
    fn merge(&mut self, other: &Window) {
        self.count += other.count;
        self.sum_ms += other.sum_ms;
        self.max_ms = self.max_ms.max(other.max_ms);
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.over += other.over;
    }
}

/// The process's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    timeouts_ms: [f64; 5],
    windows: Mutex<[Window; 5]>,
    registry: Registry,
    durations: Vec<Histogram>,
    requests: IntCounterVec,
    moved: IntCounterVec,
    retries: IntCounterVec,
    queue_lengths: IntGaugeVec,
    servers: IntGauge,
    gateway_timeouts: IntGauge,
    kvs_keys: IntGauge,
    kvs_bytes: IntGauge,
}

impl Metrics {
    /// `timeout` gives each operation's timeout: its histograms' range.
    pub fn new(timeout: impl Fn(Operation) -> Duration) -> Self {
        let timeouts_ms = Operation::ALL.map(|op| timeout(op).as_secs_f64() * 1000.0);
        let registry = Registry::new();
        let durations = Operation::ALL
            .iter()
            .map(|op| {
                let range = timeouts_ms[op.index()] / 1000.0;
                let buckets = (1..=BUCKETS)
                    .map(|n| range * n as f64 / BUCKETS as f64)
                    .collect();
                let opts = HistogramOpts::new(
                    format!("switchyard_{}_duration_seconds", op.name()),
                    format!("How long each {} operation took.", op.name()),
                )
                .buckets(buckets);
                register(&registry, Histogram::with_opts(opts))
            })
            .collect();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let gauge = |name: &str, help: &str| register(&registry, IntGauge::new(name, help));
        let inner = Inner {
            timeouts_ms,
            windows: Mutex::new([Window::default(); 5]),
            requests: counter(
                "switchyard_http_requests_total",
                "HTTP requests answered, by listener, route and status.",
                &["listener", "route", "status"],
            ),
            moved: counter(
                "switchyard_mover_messages_total",
                "Messages moved, by mover.",
                &["mover"],
            ),
            retries: counter(
                "switchyard_mover_retries_total",
                "Deliveries tried again, by mover.",
                &["mover"],
            ),
            queue_lengths: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new(
                        "switchyard_queue_length",
                        "Messages in each list this process takes from or moves to.",
                    ),
                    &["list"],
                ),
            ),
            servers: gauge(
                "switchyard_registered_servers",
                "App servers registered in the registry.",
            ),
            gateway_timeouts: gauge(
                "switchyard_gateway_timeouts",
                "Tracked gateway requests found unanswered past their deadline, by the whole \
                 fleet's monitors (MESSAGE_TRACKING).",
            ),
            kvs_keys: gauge("switchyard_kvs_keys", "Keys in this process's store."),
            kvs_bytes: gauge(
                "switchyard_kvs_bytes",
                "Bytes of keys and values in this process's store.",
            ),
            durations,
            registry,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// One `operation` that took `elapsed`.
    pub fn record(&self, operation: Operation, elapsed: Duration) {
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        let i = operation.index();
        self.windows()[i].add(elapsed_ms, self.inner.timeouts_ms[i]);
        if let Some(histogram) = self.inner.durations.get(i) {
            histogram.observe(elapsed.as_secs_f64());
        }
    }

    /// One answered request; `status` as its three digits.
    pub fn count_request(&self, listener: &str, route: &str, status: &str) {
        self.inner
            .requests
            .with_label_values(&[listener, route, status])
            .inc();
    }

    pub fn count_moved(&self, mover: &str, messages: u64) {
        self.inner
            .moved
            .with_label_values(&[mover])
            .inc_by(messages);
    }

    pub fn count_retry(&self, mover: &str) {
        self.inner.retries.with_label_values(&[mover]).inc();
    }

    /// The figures read when `/metrics` is asked: list lengths, registry size, the store.
    pub fn set_state(&self, state: &State) {
        for (list, length) in &state.queue_lengths {
            self.inner
                .queue_lengths
                .with_label_values(&[list.as_str()])
                .set(*length);
        }
        if let Some(servers) = state.servers {
            self.inner.servers.set(servers);
        }
        if let Some(timeouts) = state.gateway_timeouts {
            self.inner.gateway_timeouts.set(timeouts);
        }
        self.inner.kvs_keys.set(state.kvs_keys);
        self.inner.kvs_bytes.set(state.kvs_bytes);
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        match TextEncoder::new().encode(&self.inner.registry.gather(), &mut text) {
            Ok(()) => String::from_utf8_lossy(&text).into_owned(),
            Err(err) => {
                log::error!("metrics not rendered: {err}");
                String::new()
            }
        }
    }

    /// What was measured since the last call, per operation, and each operation's timeout.
    fn take(&self) -> [(Operation, Window, f64); 5] {
        let taken = std::mem::take(&mut *self.windows());
        Operation::ALL.map(|op| (op, taken[op.index()], self.inner.timeouts_ms[op.index()]))
    }

    fn put_back(&self, operation: Operation, window: &Window) {
        self.windows()[operation.index()].merge(window);
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, [Window; 5]> {
        // Plain counters: a panic mid-update leaves them usable.
        self.inner
            .windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `/metrics` reads at the moment it is asked.
#[derive(Debug, Default)]
pub struct State {
    pub queue_lengths: Vec<(String, i64)>,
    /// `None` when Redis did not answer.
    pub servers: Option<i64>,
    /// The `timeout` field of the gateway's metrics hash; `None` when Redis did not answer.
    pub gateway_timeouts: Option<i64>,
    pub kvs_keys: i64,
    pub kvs_bytes: i64,
}

fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    // Names and labels are constants of this file: a failure is a bug caught by its tests.
    #[allow(clippy::expect_used)]
    let metric = metric.expect("a valid metric");
    #[allow(clippy::expect_used)]
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric registered once");
    metric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_measure_lands_in_its_tenth_of_the_timeout_or_past_it() {
        let mut window = Window::default();
        for ms in [0.0, 99.9, 100.0, 950.0, 1000.0, 5000.0] {
            window.add(ms, 1000.0);
        }
        assert_eq!(window.count, 6);
        assert_eq!(window.buckets[0], 2);
        assert_eq!(window.buckets[1], 1);
        assert_eq!(window.buckets[9], 1);
        assert_eq!(window.over, 2);
        assert_eq!(window.max_ms, 5000.0);
        let mut other = Window::default();
        other.add(10.0, 1000.0);
        window.merge(&other);
        assert_eq!((window.count, window.buckets[0]), (7, 3));
    }

    #[test]
    fn the_text_format_names_every_operation() {
        let metrics = Metrics::new(|_| Duration::from_secs(1));
        metrics.record(Operation::Kvs, Duration::from_millis(3));
        metrics.count_request("main", "/kvs/{key}", "200");
        let text = metrics.render();
        for op in Operation::ALL {
            assert!(text.contains(&format!("switchyard_{}_duration_seconds", op.name())));
        }
        assert!(
            text.contains("switchyard_kvs_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains(
            r#"switchyard_http_requests_total{listener="main",route="/kvs/{key}",status="200"} 1"#
        ));
    }
}
