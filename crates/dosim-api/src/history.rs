//! The request history: every request the server saw, in order, with what happened to it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::faults::InjectedFault;

/// How many entries the history keeps; older ones are dropped first.
pub const DEFAULT_HISTORY_LIMIT: usize = 100_000;

/// One request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Position in the order requests reached the server (before any network latency), from 0,
    /// never reused.
    pub seq: u64,
    pub request_id: String,
    /// The account's fingerprint (never the token), absent when no valid token was sent.
    pub account: Option<String>,
    /// The `x-dosim-actor` header, else the peer address, else `unknown`.
    pub actor: String,
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// Simulated milliseconds since the epoch when the request reached the API (after any network
    /// latency).
    pub received_ms: u64,
    /// When the request read or changed the model; absent when it never reached it.
    pub committed_ms: Option<u64>,
    pub status: u16,
    pub fault: Option<InjectedFault>,
    /// A short description of the response, such as the created resource's id or an error message.
    pub summary: Option<String>,
    /// The client had gone away (timed out, closed its connection) before the response was
    /// ready, so it was never delivered; the commit, if any, stands. Absent from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_gone: bool,
}

/// One page of the history, as `GET /_dosim/history` serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPage {
    /// In `seq` order.
    pub entries: Vec<HistoryEntry>,
    /// Whether entries ready to read follow this page's.
    pub more: bool,
    /// The oldest seq whose request is still in flight: no entry from it on is in the page yet.
    pub waiting_for: Option<u64>,
}

/// The bounded log of requests: at most `entries_max` entries and about `bytes_max` bytes,
/// the oldest dropped first; each entry's path and summary are cut to a bounded length, saying so.
#[derive(Clone, Debug)]
pub struct History {
    entries: VecDeque<HistoryEntry>,
    entries_max: usize,
    bytes_max: usize,
    /// What the kept entries weigh, by [`entry_bytes`].
    bytes: usize,
}

impl History {
    /// A history of at most `entries_max` entries and [`DEFAULT_HISTORY_BYTES`].
    pub fn new(entries_max: usize) -> History {
        History::bounded(entries_max, DEFAULT_HISTORY_BYTES)
    }

    /// A history of at most `entries_max` entries and `bytes_max` bytes (each at least one entry's worth).
    pub fn bounded(entries_max: usize, bytes_max: usize) -> History {
        History {
            entries: VecDeque::new(),
            entries_max: entries_max.max(1),
            bytes_max: bytes_max.max(ENTRY_BYTES_MAX),
            bytes: 0,
        }
    }

    pub fn push(&mut self, mut entry: HistoryEntry) {
        truncate(&mut entry.path, PATH_KEPT_MAX);
        if let Some(summary) = &mut entry.summary {
            truncate(summary, SUMMARY_KEPT_MAX);
        }
        let weight = entry_bytes(&entry);
        while !self.entries.is_empty()
            && (self.entries.len() >= self.entries_max || self.bytes + weight > self.bytes_max)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= entry_bytes(&old);
            }
        }
        self.bytes += weight;
        self.entries.push_back(entry);
    }

    /// Every entry, in the order [`History::entries`] gives them, moved out; the history is
    /// left empty.
    pub fn take(&mut self) -> Vec<HistoryEntry> {
        self.bytes = 0;
        std::mem::take(&mut self.entries).into()
    }

    /// Every entry, in the order they were recorded (when their responses were ready, which is
    /// not quite `seq` order: a slow request is recorded after faster later ones).
    pub fn entries(&self) -> impl Iterator<Item = &HistoryEntry> {
        self.entries.iter()
    }

    /// Up to `limit` entries whose `seq` is greater than `after` (all, when `after` is `None`)
    /// and less than `held_from` (no bound when `None`), in `seq` order, and whether more such
    /// entries follow them.
    pub fn page(
        &self,
        after: Option<u64>,
        limit: usize,
        held_from: Option<u64>,
    ) -> (Vec<HistoryEntry>, bool) {
        let limit = limit.max(1);
        // The `limit` smallest seqs in range, found in one pass without sorting the history.
        let mut smallest: std::collections::BinaryHeap<(u64, usize)> =
            std::collections::BinaryHeap::with_capacity(limit + 1);
        let mut matching = 0usize;
        for (index, entry) in self.entries.iter().enumerate() {
            if after.is_some_and(|after| entry.seq <= after)
                || held_from.is_some_and(|held| entry.seq >= held)
            {
                continue;
            }
            matching += 1;
            smallest.push((entry.seq, index));
            if smallest.len() > limit {
                smallest.pop();
            }
        }
        let mut page: Vec<(u64, usize)> = smallest.into_vec();
        page.sort_unstable();
        let entries = page
            .into_iter()
            .map(|(_, index)| self.entries[index].clone())
            .collect::<Vec<_>>();
        (entries, matching > limit)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// What the kept entries weigh, by the measure the byte bound uses.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// Default bound on the history's weight: 64 MiB.
pub const DEFAULT_HISTORY_BYTES: usize = 64 * 1024 * 1024;
/// The longest path (with its query) an entry keeps, in bytes, before its truncation note.
pub const PATH_KEPT_MAX: usize = 2048;
/// The longest summary an entry keeps, in bytes, before its truncation note.
pub const SUMMARY_KEPT_MAX: usize = 1024;
/// Room kept for the note that says how long a cut text was (`… [truncated: N bytes in all]`
/// is at most 51 bytes).
const NOTE_ROOM: usize = 64;
/// An upper bound on one entry's weight after truncation (the actor is cut to 200 characters by
/// the pipeline, of up to 4 bytes each).
const ENTRY_BYTES_MAX: usize = 4096;

/// What an entry weighs: its fixed size and the bytes of its strings.
pub fn entry_bytes(entry: &HistoryEntry) -> usize {
    std::mem::size_of::<HistoryEntry>()
        + entry.request_id.len()
        + entry.account.as_ref().map_or(0, String::len)
        + entry.actor.len()
        + entry.method.len()
        + entry.path.len()
        + entry.summary.as_ref().map_or(0, String::len)
        + std::mem::size_of::<InjectedFault>()
}

/// Cuts `text` to at most `max` bytes on a character boundary and says how long it was.
fn truncate(text: &mut String, max: usize) {
    if let Some(cut) = cut(text, max) {
        *text = cut;
    }
}

/// `text` cut to at most `max` bytes, its note included, on a character boundary, saying how
/// long it was, in a fresh allocation of its own size; `None` if it is short enough already.
/// Cutting again changes nothing.
pub(crate) fn cut(text: &str, max: usize) -> Option<String> {
    if text.len() <= max {
        return None;
    }
    let mut end = max.saturating_sub(NOTE_ROOM);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!(
        "{}… [truncated: {} bytes in all]",
        &text[..end],
        text.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, path: &str) -> HistoryEntry {
        HistoryEntry {
            seq,
            request_id: "r".into(),
            account: None,
            actor: "a".into(),
            method: "GET".into(),
            path: path.into(),
            received_ms: 0,
            committed_ms: None,
            status: 200,
            fault: None,
            summary: None,
            client_gone: false,
        }
    }

    #[test]
    fn take_gives_the_entries_in_order_and_leaves_an_empty_history() {
        let mut history = History::bounded(3, 1 << 20);
        for seq in [2, 0, 1, 3] {
            history.push(entry(seq, "/x"));
        }
        let kept: Vec<HistoryEntry> = history.entries().cloned().collect();
        assert_eq!(history.take(), kept);
        assert_eq!(history.entries().count(), 0);
        // What it weighed is gone too: it takes as many entries as a new history.
        for seq in 4..7 {
            history.push(entry(seq, "/y"));
        }
        let seqs: Vec<u64> = history.entries().map(|entry| entry.seq).collect();
        assert_eq!(seqs, [4, 5, 6]);
    }

    #[test]
    fn bounded_by_entries_and_by_bytes_with_long_paths_cut() {
        let long = format!("/v2/account?q={}", "a".repeat(60_000));
        let long = long.as_str();
        // (entries max, bytes max, paths pushed, entries kept, first seq kept)
        let cases: &[(usize, usize, &[&str], usize, u64)] = &[
            (3, 1 << 20, &["/a", "/b", "/c", "/d", "/e"], 3, 2),
            (100, 1, &["/a", "/b"], 2, 0),
            (100, 5000, &[long, long, long], 2, 1),
        ];
        for (case, (entries_max, bytes_max, paths, kept, first)) in cases.iter().enumerate() {
            let mut history = History::bounded(*entries_max, *bytes_max);
            for (seq, path) in paths.iter().enumerate() {
                history.push(entry(seq as u64, path));
            }
            assert_eq!(history.len(), *kept, "case {case}");
            assert_eq!(history.entries().next().unwrap().seq, *first, "case {case}");
            assert!(
                history.bytes() <= (*bytes_max).max(ENTRY_BYTES_MAX),
                "case {case}"
            );
            let sum: usize = history.entries().map(entry_bytes).sum();
            assert_eq!(sum, history.bytes(), "case {case}");
            for kept in history.entries() {
                assert!(kept.path.len() <= PATH_KEPT_MAX, "case {case}");
                assert!(entry_bytes(kept) <= ENTRY_BYTES_MAX, "case {case}");
            }
        }
        let mut history = History::bounded(1000, 10 * 4096);
        for seq in 0..50 {
            history.push(entry(seq, long));
        }
        let weight = entry_bytes(history.entries().next().unwrap());
        assert_eq!(history.len(), 10 * 4096 / weight);
        assert_eq!(
            history.entries().next().unwrap().seq,
            50 - history.len() as u64
        );
        let mut history = History::new(10);
        history.push(entry(0, long));
        let path = &history.entries().next().unwrap().path;
        assert!(
            path.ends_with(&format!("… [truncated: {} bytes in all]", long.len())),
            "{path}"
        );
        let mut multibyte = "é".repeat(2000);
        truncate(&mut multibyte, 2047);
        assert!(multibyte.starts_with(&"é".repeat(991)), "{multibyte}");
        assert!(multibyte.len() <= 2047);
        let once = multibyte.clone();
        truncate(&mut multibyte, 2047);
        assert_eq!(multibyte, once, "cutting again changes nothing");
    }

    #[test]
    fn pages_follow_seq_order_whatever_the_record_order() {
        let mut history = History::new(100);
        for seq in [1, 0, 2, 5, 3, 4, 7, 6] {
            history.push(entry(seq, "/x"));
        }
        // (after, limit, seqs, more)
        let cases: &[(Option<u64>, usize, &[u64], bool)] = &[
            (None, 3, &[0, 1, 2], true),
            (Some(2), 3, &[3, 4, 5], true),
            (Some(5), 3, &[6, 7], false),
            (Some(7), 3, &[], false),
            (None, 100, &[0, 1, 2, 3, 4, 5, 6, 7], false),
            (Some(0), 0, &[1], true),
        ];
        for (after, limit, seqs, more) in cases {
            let (page, more_found) = history.page(*after, *limit, None);
            let found: Vec<u64> = page.iter().map(|e| e.seq).collect();
            assert_eq!(
                (&found[..], more_found),
                (*seqs, *more),
                "after {after:?} limit {limit}"
            );
        }
        // Held back from seq 4: what is ready stops there, and nothing more is ready.
        let (page, more) = history.page(Some(1), 1, Some(4));
        assert_eq!(
            (page.iter().map(|e| e.seq).collect::<Vec<_>>(), more),
            (vec![2], true)
        );
        let (page, more) = history.page(Some(1), 3, Some(4));
        assert_eq!(
            (page.iter().map(|e| e.seq).collect::<Vec<_>>(), more),
            (vec![2, 3], false)
        );
        let (page, more) = history.page(None, 3, Some(0));
        assert_eq!((page.len(), more), (0, false));
    }
}
