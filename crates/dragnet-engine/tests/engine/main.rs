//! The engine's integration tests, one binary: the engine links Apache DataFusion (ES|QL
//! rules), so each test binary costs a large link; the suites are modules of this one.

mod aggregations;
mod eql_runs;
mod progress;
