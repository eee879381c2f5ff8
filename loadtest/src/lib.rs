//! `bedside-loadtest`: open-loop signaling load against a Bedside hub, with
//! latency measured from each message's intended send time (coordinated
//! omission corrected) in HDR histograms, a built-in naive forwarder as the
//! baseline, and reports for people (terminal, HTML) and machines (JSON).
//!
//! - [`run`]: scenarios and the open-loop scheduler;
//! - [`metrics`]: counts and histograms per message type;
//! - [`report`]: terminal table, JSON, HTML, SLO checks;
//! - [`baseline`]: the naive forwarder;
//! - [`conn`], [`tokens`], [`sdp`], [`procstat`]: plumbing.

pub mod baseline;
pub mod conn;
pub mod metrics;
pub mod procstat;
pub mod report;
pub mod run;
pub mod sdp;
pub mod tokens;

pub use run::{Plan, Report, Scenario, run};
