//! Sweeps across machines: shards of a seed range, merging their JSON results, and saving failures.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::explore::{Exploration, Found};
use crate::seed::Seeds;

/// The most shards a seed range may be split into.
pub const SHARDS_MAX: u64 = 10_000;

/// The largest results file `dosim merge` reads.
pub const RESULTS_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// The most results files one merge reads.
pub const RESULTS_FILES_MAX: usize = SHARDS_MAX as usize;

/// One shard of a sweep, `K/N`: the `K`th of `N` contiguous blocks of the seed range, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` of `count`, when `1 <= index <= count <= SHARDS_MAX`.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 || count > SHARDS_MAX {
            return Err(format!(
                "the shard count must be from 1 to {SHARDS_MAX}, not {count}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard {index}/{count} does not exist: K in K/N counts from 1 to N"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Which shard, from 1.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// How many shards.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// This shard's block of `seeds`. The blocks of shards `1/N` to `N/N` are contiguous,
    /// in order, disjoint, and cover `seeds` exactly; their sizes differ by at most one.
    /// A shard of a range shorter than `N` may be empty.
    pub fn seeds(&self, seeds: &Seeds) -> Seeds {
        let start = seeds.0.start;
        let len = u128::from(seeds.len());
        let count = u128::from(self.count);
        let offset = |k: u64| {
            u64::try_from(len * u128::from(k) / count).expect("an offset is at most the length")
        };
        Seeds(start + offset(self.index - 1)..start + offset(self.index))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let malformed = || format!("`{text}` is not a shard: write K/N, such as 2/8");
        let (index, count) = text.trim().split_once('/').ok_or_else(malformed)?;
        let index = index.trim().parse::<u64>().map_err(|_| malformed())?;
        let count = count.trim().parse::<u64>().map_err(|_| malformed())?;
        Shard::new(index, count)
    }
}

/// One scenario's line of `dosim explore --format json`: the exploration, whether it matches
/// the expectation, and the wall-clock rate. `dosim merge` reads these back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExploreRow {
    /// What the sweep found.
    #[serde(flatten)]
    pub exploration: Exploration,
    /// Whether it is what the scenario expects.
    pub matches_expectation: bool,
    /// Seeds per wall-clock second; the only field that varies between identical sweeps.
    pub seeds_per_second: f64,
}

impl ExploreRow {
    /// The row of an exploration that took `seconds` of wall-clock time.
    pub fn new(exploration: Exploration, seconds: f64) -> ExploreRow {
        // Under dfs the runs are schedules of one seed.
        let runs = exploration.schedules_run.unwrap_or(exploration.seeds_run);
        let seeds_per_second = if seconds > 0.0 {
            runs as f64 / seconds
        } else {
            0.0
        };
        ExploreRow {
            matches_expectation: exploration.matches_expectation(),
            exploration,
            seeds_per_second,
        }
    }
}

/// Parses the `seeds` field of a result: one range `A..B`, or several joined by commas, as a
/// merge of non-adjacent shards writes them.
pub fn parse_seed_ranges(text: &str) -> Result<Vec<Seeds>, String> {
    text.split(',')
        .map(|part| part.trim().parse::<Seeds>())
        .collect()
}

/// Writes ranges sorted and coalesced: `0..100` for adjacent ones, `0..10,20..30` otherwise.
pub fn format_seed_ranges(ranges: &[Seeds]) -> String {
    let mut sorted: Vec<std::ops::Range<u64>> = ranges
        .iter()
        .map(|seeds| seeds.0.clone())
        .filter(|range| !range.is_empty())
        .collect();
    sorted.sort_by_key(|range| (range.start, range.end));
    let mut coalesced: Vec<std::ops::Range<u64>> = Vec::new();
    for range in sorted {
        match coalesced.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => coalesced.push(range),
        }
    }
    coalesced
        .iter()
        .map(|range| format!("{}..{}", range.start, range.end))
        .collect::<Vec<_>>()
        .join(",")
}

/// Merges the results of several sweeps (the shards of one range, usually) into one row per
/// scenario, in the order scenarios first appear.
///
/// The rule: a scenario is `invalid` if any part says so; otherwise the failure (race or
/// nondeterminism) with the smallest seed wins, with its report; otherwise it is `clean`.
/// `seeds` is the union of the parts' ranges, and `seeds_run` counts the union's seeds up to
/// and including the winning failure (all of them when there is none), which is what one sweep
/// over the union would report. Merging the `N` shards of a range therefore gives the result of
/// sweeping the whole range, except for `seeds_per_second`, which is the sum of the parts'.
/// Two parts whose ranges overlap are an error: the same shard was given twice.
pub fn merge(rows: Vec<ExploreRow>) -> Result<Vec<ExploreRow>, String> {
    let mut groups: Vec<(String, Vec<ExploreRow>)> = Vec::new();
    for row in rows {
        match groups
            .iter_mut()
            .find(|(name, _)| *name == row.exploration.scenario)
        {
            Some((_, group)) => group.push(row),
            None => groups.push((row.exploration.scenario.clone(), vec![row])),
        }
    }
    groups
        .into_iter()
        .map(|(name, group)| merge_scenario(&name, group))
        .collect()
}

fn merge_scenario(name: &str, group: Vec<ExploreRow>) -> Result<ExploreRow, String> {
    let (expect, strategy) = (group[0].exploration.expect, group[0].exploration.strategy);
    if group.iter().any(|row| row.exploration.expect != expect) {
        return Err(format!(
            "scenario {name}: the results disagree on what it expects; were they built from the same code?"
        ));
    }
    if group.iter().any(|row| row.exploration.strategy != strategy) {
        return Err(format!(
            "scenario {name}: the results come from different strategies; merge each strategy's shards on their own"
        ));
    }
    let mut ranges: Vec<Seeds> = Vec::new();
    for row in &group {
        let parsed = parse_seed_ranges(&row.exploration.seeds)
            .map_err(|error| format!("scenario {name}: seeds: {error}"))?;
        ranges.extend(parsed);
    }
    let mut sorted: Vec<&Seeds> = ranges.iter().collect();
    sorted.sort_by_key(|seeds| seeds.0.start);
    for pair in sorted.windows(2) {
        if pair[1].0.start < pair[0].0.end {
            return Err(format!(
                "scenario {name}: seeds {} and {} overlap; merge each shard once",
                pair[0], pair[1]
            ));
        }
    }
    let seeds_per_second = group.iter().map(|row| row.seeds_per_second).sum();
    let union = format_seed_ranges(&ranges);
    if let Some(invalid) = group
        .iter()
        .find(|row| row.exploration.found == Found::Invalid)
    {
        let mut exploration = invalid.exploration.clone();
        exploration.seeds = union;
        return Ok(ExploreRow {
            matches_expectation: exploration.matches_expectation(),
            exploration,
            seeds_per_second,
        });
    }
    let failure = group
        .iter()
        .filter(|row| matches!(row.exploration.found, Found::Race | Found::Nondeterministic))
        .filter_map(|row| {
            row.exploration
                .first_failing_seed
                .map(|seed| (seed, &row.exploration))
        })
        .min_by_key(|(seed, _)| *seed);
    let exploration = match failure {
        Some((seed, failing)) => {
            let seeds_run = ranges
                .iter()
                .map(|seeds| {
                    seeds
                        .0
                        .end
                        .min(seed.saturating_add(1))
                        .saturating_sub(seeds.0.start)
                })
                .sum();
            Exploration {
                seeds: union,
                seeds_run,
                // Shards' commit orders overlap; their counts do not add up.
                orders: None,
                ..failing.clone()
            }
        }
        None => Exploration {
            seeds_run: group.iter().map(|row| row.exploration.seeds_run).sum(),
            ..Exploration::clean(name.to_owned(), expect, union, strategy)
        },
    };
    Ok(ExploreRow {
        matches_expectation: exploration.matches_expectation(),
        exploration,
        seeds_per_second,
    })
}

/// Reads the JSON results of `dosim explore --format json` from `paths`.
pub fn read_results(paths: &[PathBuf]) -> Result<Vec<ExploreRow>, String> {
    if paths.len() > RESULTS_FILES_MAX {
        return Err(format!(
            "{} results files is more than the {RESULTS_FILES_MAX} one merge reads",
            paths.len()
        ));
    }
    let mut rows = Vec::new();
    for path in paths {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .map_err(|error| format!("{shown}: {error}"))?
            .len();
        if size > RESULTS_BYTES_MAX {
            return Err(format!(
                "{shown}: {size} bytes is more than the {RESULTS_BYTES_MAX} a results file may hold"
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|error| format!("{shown}: {error}"))?;
        let parsed: Vec<ExploreRow> = serde_json::from_str(&text).map_err(|error| {
            format!("{shown}: not the JSON output of `dosim explore --format json`: {error}")
        })?;
        rows.extend(parsed);
    }
    Ok(rows)
}

/// The file stem of a failing seed's files: `<scenario>-seed-<N>`, with any character that is
/// unsafe in a file name replaced by `_`.
pub fn failure_stem(scenario: &str, seed: u64) -> String {
    let safe: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    format!("{safe}-seed-{seed}")
}

/// Writes each failing seed's report as `<scenario>-seed-<N>.txt` and its row as `.json` in
/// `dir`, which must exist. Returns the paths written.
pub fn save_failures(dir: &Path, rows: &[ExploreRow]) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for row in rows {
        let exploration = &row.exploration;
        let Some(seed) = exploration.first_failing_seed else {
            continue;
        };
        let stem = failure_stem(&exploration.scenario, seed);
        let text = match (&exploration.report, &exploration.problem) {
            (Some(report), _) => report.to_text(),
            (None, Some(problem)) => format!("{problem}\n"),
            (None, None) => continue,
        };
        let json = serde_json::to_string_pretty(row).expect("a row holds only strings and numbers");
        for (extension, contents) in [("txt", text), ("json", format!("{json}\n"))] {
            let path = dir.join(format!("{stem}.{extension}"));
            std::fs::write(&path, contents)
                .map_err(|error| format!("--save-failures: {}: {error}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}
