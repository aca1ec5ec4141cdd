//! Counters for `/crust/metrics` (Prometheus text format).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (µs) of the evaluation-time histogram buckets.
const BUCKETS_US: [u64; 8] = [1, 5, 10, 50, 100, 500, 1_000, 10_000];

#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub upstream_errors: AtomicU64,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    blocks: Mutex<BTreeMap<String, u64>>,
    eval_buckets: [AtomicU64; 9],
    eval_sum_ns: AtomicU64,
    eval_count: AtomicU64,
    hook_calls: AtomicU64,
    /// Exchanges Envoy sent through the ext_proc service.
    pub ext_proc_exchanges: AtomicU64,
}

impl Metrics {
    pub fn block(&self, rule: &str) {
        if let Ok(mut m) = self.blocks.lock() {
            *m.entry(rule.to_owned()).or_default() += 1;
        }
    }

    /// One call judged for `crust hook` through the control socket.
    pub fn hook_call(&self) {
        self.hook_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn hook_calls(&self) -> u64 {
        self.hook_calls.load(Ordering::Relaxed)
    }

    /// Blocks so far, by rule.
    pub fn blocks_by_rule(&self) -> BTreeMap<String, u64> {
        self.blocks.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn eval_time(&self, d: std::time::Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BUCKETS_US.len());
        if let Some(b) = self.eval_buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.eval_sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.eval_count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, bundle_checksum: u64, bundle_rules: usize) -> String {
        let mut s = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(s, "# TYPE crust_requests_total counter");
        let _ = writeln!(s, "crust_requests_total {}", get(&self.requests));
        let _ = writeln!(s, "# TYPE crust_upstream_errors_total counter");
        let _ = writeln!(
            s,
            "crust_upstream_errors_total {}",
            get(&self.upstream_errors)
        );
        let _ = writeln!(s, "# TYPE crust_hook_calls_total counter");
        let _ = writeln!(s, "crust_hook_calls_total {}", get(&self.hook_calls));
        let _ = writeln!(s, "# TYPE crust_ext_proc_exchanges_total counter");
        let _ = writeln!(
            s,
            "crust_ext_proc_exchanges_total {}",
            get(&self.ext_proc_exchanges)
        );
        let _ = writeln!(s, "# TYPE crust_bundle_reloads_total counter");
        let _ = writeln!(s, "crust_bundle_reloads_total {}", get(&self.reloads));
        let _ = writeln!(
            s,
            "crust_bundle_reload_failures_total {}",
            get(&self.reload_failures)
        );
        let _ = writeln!(s, "# TYPE crust_blocks_total counter");
        if let Ok(m) = self.blocks.lock() {
            for (rule, n) in m.iter() {
                let rule = rule.replace(['\\', '"', '\n'], "_");
                let _ = writeln!(s, "crust_blocks_total{{rule=\"{rule}\"}} {n}");
            }
        }
        let _ = writeln!(s, "# TYPE crust_evaluation_seconds histogram");
        let mut cum = 0;
        for (i, b) in BUCKETS_US.iter().enumerate() {
            cum += self.eval_buckets.get(i).map_or(0, get);
            let _ = writeln!(
                s,
                "crust_evaluation_seconds_bucket{{le=\"{}\"}} {cum}",
                *b as f64 / 1e6
            );
        }
        cum += self.eval_buckets.get(BUCKETS_US.len()).map_or(0, get);
        let _ = writeln!(s, "crust_evaluation_seconds_bucket{{le=\"+Inf\"}} {cum}");
        let _ = writeln!(
            s,
            "crust_evaluation_seconds_sum {}",
            get(&self.eval_sum_ns) as f64 / 1e9
        );
        let _ = writeln!(
            s,
            "crust_evaluation_seconds_count {}",
            get(&self.eval_count)
        );
        let _ = writeln!(s, "# TYPE crust_bundle_info gauge");
        let _ = writeln!(
            s,
            "crust_bundle_info{{checksum=\"{bundle_checksum:016x}\",rules=\"{bundle_rules}\"}} 1"
        );
        s
    }
}
