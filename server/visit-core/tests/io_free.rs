//! The core stays free of IO because its dependency tree cannot reach
//! anything that does IO: this walks the workspace's `Cargo.lock` from
//! `bedside-visit` (dev-dependencies included) and fails, naming the path,
//! if tokio, hyper, rusqlite, tracing or their kin ever enter it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

const LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"));

/// Crates that open sockets or files, spawn tasks or threads, or log.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "tokio-util",
    "tokio-tungstenite",
    "tokio-rustls",
    "mio",
    "hyper",
    "hyper-util",
    "rusqlite",
    "libsqlite3-sys",
    "tracing",
    "tracing-subscriber",
    "socket2",
];

/// `name version` → the `name version` of each dependency.
fn graph() -> BTreeMap<String, Vec<String>> {
    let mut packages: Vec<(String, String, Vec<String>)> = Vec::new();
    for block in LOCK.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        let deps = match block.split_once("dependencies = [") {
            Some((_, rest)) => rest
                .split(']')
                .next()
                .unwrap()
                .lines()
                .map(|l| l.trim().trim_end_matches(',').trim_matches('"').to_owned())
                .filter(|l| !l.is_empty())
                .collect(),
            None => Vec::new(),
        };
        packages.push((field("name").unwrap(), field("version").unwrap(), deps));
    }
    // A dependency is written `name` when one version is locked, else
    // `name version` (and maybe a source in parentheses).
    let resolve = |dep: &str| {
        let mut parts = dep.split(' ');
        let name = parts.next().unwrap();
        let version = parts.next();
        let found: Vec<_> = packages
            .iter()
            .filter(|(n, v, _)| n == name && version.is_none_or(|want| want == v))
            .collect();
        assert_eq!(found.len(), 1, "cannot resolve {dep} in Cargo.lock");
        format!("{} {}", found[0].0, found[0].1)
    };
    packages
        .iter()
        .map(|(n, v, deps)| {
            (
                format!("{n} {v}"),
                deps.iter().map(|d| resolve(d)).collect(),
            )
        })
        .collect()
}

#[test]
fn the_core_reaches_no_crate_that_does_io() {
    let graph = graph();
    let start = graph
        .keys()
        .find(|k| k.starts_with("bedside-visit "))
        .expect("bedside-visit is in Cargo.lock")
        .clone();
    // Breadth first, remembering how each crate was reached.
    let mut via: BTreeMap<String, Option<String>> = BTreeMap::from([(start.clone(), None)]);
    let mut queue = VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for dep in &graph[&at] {
            if !via.contains_key(dep) {
                via.insert(dep.clone(), Some(at.clone()));
                queue.push_back(dep.clone());
            }
        }
    }
    let names: BTreeSet<&str> = via.keys().map(|k| k.split(' ').next().unwrap()).collect();
    // The walk works: it finds what the core does use.
    for needed in [
        "bedside-protocol",
        "serde",
        "serde_json",
        "sha2",
        "webrtc-sdp",
    ] {
        assert!(
            names.contains(needed),
            "{needed} not reached: the walk is broken"
        );
    }
    let forbidden = via
        .keys()
        .find(|k| FORBIDDEN.contains(&k.split(' ').next().unwrap()));
    if let Some(reached) = forbidden {
        let mut path = vec![reached.clone()];
        while let Some(Some(parent)) = via.get(path.last().unwrap()) {
            path.push(parent.clone());
        }
        path.reverse();
        panic!("bedside-visit reaches {reached}: {}", path.join(" -> "));
    }
}
