//! Reading an audit file's records of one visit, or of a time range, for
//! the operator API's export. Records are handed out exactly as they were
//! written (the line's bytes), so an investigator can check each record's
//! hash, and every node of a cluster answers with the same shape
//! ([`crate::net::remote`] gathers them).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::BufRead as _;
use std::path::Path;

/// What an export asks for: a visit's records, or a time range's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Only records of this visit.
    pub visit: Option<String>,
    /// From (unix seconds, inclusive).
    pub from: Option<i64>,
    /// To (unix seconds, exclusive).
    pub to: Option<i64>,
}

/// Why a query string is not an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Neither a visit nor a whole range.
    #[error("give visit=ID, or from= and to= (unix seconds)")]
    Incomplete,
    /// The visit id is not one.
    #[error("bad visit id")]
    BadVisit,
}

impl Query {
    /// `visit=V` or `from=UNIX_S&to=UNIX_S` (both may be given).
    pub fn parse(query: &str) -> Result<Self, QueryError> {
        let mut q = Query {
            visit: None,
            from: None,
            to: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "visit" => q.visit = Some(v.to_owned()),
                "from" => q.from = v.parse::<i64>().ok(),
                "to" => q.to = v.parse::<i64>().ok(),
                _ => {}
            }
        }
        if q.visit.is_none() && (q.from.is_none() || q.to.is_none()) {
            return Err(QueryError::Incomplete);
        }
        if q.visit
            .as_deref()
            .is_some_and(|v| bedside_protocol::VisitId::new(v).is_err())
        {
            return Err(QueryError::BadVisit);
        }
        Ok(q)
    }
}

/// One record as written, with its timestamp (records of several files
/// merge by it: the format's `ts` sorts as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The record's `ts`.
    pub ts: String,
    /// The record's line, without its newline.
    pub text: String,
}

/// What one file holds for a query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// The records, in the file's order (time order).
    pub lines: Vec<Line>,
    /// More records matched than `max`.
    pub truncated: bool,
}

/// The records of `path` that match `q`, at most `max`. Blocking: run it
/// off the runtime's threads. A line that is not a record (a torn last
/// line after a crash) is skipped; records are in time order, so a range
/// stops at its end.
pub fn read(path: &Path, q: &Query, max: usize) -> std::io::Result<Found> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut found = Found::default();
    for line in file.lines() {
        let line = line?;
        if let Some(v) = &q.visit
            && !line.contains(v.as_str())
        {
            continue; // cheap pre-filter; the parsed field decides
        }
        let Ok(r) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let ts = r["ts"].as_str().unwrap_or_default().to_owned();
        let s = unix_seconds(&ts);
        if let (Some(t), Some(s)) = (q.to, s)
            && s >= t
        {
            break;
        }
        if q.from.is_some_and(|f| s.is_none_or(|s| s < f)) {
            continue;
        }
        if q.visit
            .as_deref()
            .is_some_and(|v| r["visit_id"].as_str() != Some(v))
        {
            continue;
        }
        if found.lines.len() == max {
            found.truncated = true;
            break;
        }
        found.lines.push(Line { ts, text: line });
    }
    Ok(found)
}

/// Several files' answers as one, in time order (a stable merge: records
/// of one file keep their order), at most `max`.
pub fn merge(parts: impl IntoIterator<Item = Found>, max: usize) -> Found {
    let mut all = Found::default();
    for p in parts {
        all.truncated |= p.truncated;
        all.lines.extend(p.lines);
    }
    all.lines.sort_by(|a, b| a.ts.cmp(&b.ts));
    if all.lines.len() > max {
        all.lines.truncate(max);
        all.truncated = true;
    }
    all
}

/// `2026-11-24T23:59:01.123Z` (an audit record's `ts`) as unix seconds.
pub fn unix_seconds(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_timestamps_read_as_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            unix_seconds("2026-11-24T23:59:01.123Z"),
            Some(1_795_564_741)
        );
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn a_query_needs_a_visit_or_a_whole_range() {
        assert_eq!(Query::parse(""), Err(QueryError::Incomplete));
        assert_eq!(Query::parse("from=1"), Err(QueryError::Incomplete));
        assert_eq!(Query::parse("visit=a%20b"), Err(QueryError::BadVisit));
        let q = Query::parse("from=1&to=2").unwrap();
        assert_eq!((q.from, q.to, q.visit), (Some(1), Some(2), None));
    }

    fn line(ts: &str, node: &str) -> Line {
        Line {
            ts: ts.into(),
            text: format!("{{\"ts\":\"{ts}\",\"node\":\"{node}\"}}"),
        }
    }

    #[test]
    fn files_merge_in_time_order_and_the_cut_is_said() {
        let a = Found {
            lines: vec![
                line("2026-12-03T10:00:00.000Z", "a"),
                line("2026-12-03T10:00:02.000Z", "a"),
            ],
            truncated: false,
        };
        let b = Found {
            lines: vec![line("2026-12-03T10:00:01.000Z", "b")],
            truncated: false,
        };
        let all = merge([a.clone(), b.clone()], 10);
        let order: Vec<&str> = all.lines.iter().map(|l| &l.ts[17..19]).collect();
        assert_eq!(order, ["00", "01", "02"]);
        assert!(!all.truncated);
        let cut = merge([a, b], 2);
        assert_eq!(cut.lines.len(), 2);
        assert!(cut.truncated);
    }

    #[test]
    fn a_file_answers_its_visits_records_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let text = concat!(
            "{\"ts\":\"2026-12-03T10:00:00.000Z\",\"visit_id\":\"v-1\",  \"x\":1}\n",
            "{\"ts\":\"2026-12-03T10:00:01.000Z\",\"visit_id\":\"v-2\"}\n",
            "{\"ts\":\"2026-12-03T10:00:02.000Z\",\"visit_id\":\"v-1\"}\n",
            "{\"ts\":\"2026-12-03T10:00:03.000Z\",\"visit_id\":\"v-1\"", // torn
        );
        std::fs::write(&path, text).unwrap();
        let q = Query::parse("visit=v-1").unwrap();
        let found = read(&path, &q, 10).unwrap();
        assert_eq!(found.lines.len(), 2);
        assert_eq!(found.lines[0].text, text.lines().next().unwrap());
        let first = read(&path, &q, 1).unwrap();
        assert!(first.truncated);
    }
}
