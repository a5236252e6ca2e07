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

/// The bounded log of requests.
#[derive(Clone, Debug)]
pub struct History {
    entries: VecDeque<HistoryEntry>,
    limit: usize,
}

impl History {
    pub fn new(limit: usize) -> History {
        History {
            entries: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    pub fn push(&mut self, entry: HistoryEntry) {
        if self.entries.len() >= self.limit {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries(&self) -> impl Iterator<Item = &HistoryEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
