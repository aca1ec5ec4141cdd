//! Shared fixtures for the criterion benchmarks.
