//! Bundle load and the engine built from it: read plus full validation of every automaton,
//! beside the baseline of only reading the same file into memory.

use criterion::{criterion_group, criterion_main, Criterion};
use crust_benches::builtin_bundle_file;
use crust_runtime::Engine;
use std::hint::black_box;

/// Measured with the allocator the shipped binaries use (docs/DEPENDENCIES.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(c: &mut Criterion) {
    let path = builtin_bundle_file();
    let mut g = c.benchmark_group("bundle_load");
    g.bench_function("crust_read_validate", |b| {
        b.iter(|| black_box(Engine::load(black_box(&path)).map(|b| b.len()).unwrap_or(0)))
    });
    g.bench_function("baseline_fs_read", |b| {
        b.iter(|| {
            black_box(
                std::fs::read(black_box(&path))
                    .map(|v| v.len())
                    .unwrap_or(0),
            )
        })
    });
    g.finish();
    let compile = || {
        crust_compiler::compile_sources(crust_compiler::builtin_sources())
            .map(|c| c.bytes.len())
            .unwrap_or(0)
    };
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("crustc_builtin_policy", |b| b.iter(|| black_box(compile())));
    g.finish();
}

criterion_group! { name = benches; config = crust_benches::criterion_config(); targets = load }
criterion_main!(benches);
