//! Where a run keeps its alerts until they are written: memory bounded by a byte budget whatever
//! the alert count.
//!
//! [`AlertStore`] buffers alerts up to its budget; a full buffer is sorted by the store's order
//! and spilled to a temporary file as one run of compact binary alerts (`Alert::encode`).
//! [`AlertStore::into_sorted`] merges the runs (k-way, at most [`MERGE_FAN_IN`] files open at
//! once; more are merged in passes first) with what is still buffered. Temporary files are
//! unlinked as they are created (`tempfile::tempfile_in`), so nothing is left behind on exit,
//! on error or on a crash.
//!
//! [`TopN`] keeps only the best `--max-signals` alerts per rule while the run goes on; the
//! alerts it leaves out are kept as husks (`Alert::strip_document`) so the counts stay exact.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dragnet_alert::{Alert, InputOrder};
use jiff::Timestamp;

/// Bytes of alerts a run keeps in memory before it spills a sorted run to disk
/// (`hunt --alert-memory`).
pub const DEFAULT_ALERT_MEMORY: usize = 64 << 20;

/// Spill files merged at once; more are first merged into larger runs, so a run never holds
/// more than this many files open (about 8 GiB of alerts at the default budget before a
/// merge pass rewrites any).
pub const MERGE_FAN_IN: usize = 128;

/// Read and write buffer per spill file.
const FILE_BUFFER: usize = 1 << 16;

/// One alert in a store, with what dedup and `--max-signals` need to know of it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub alert: Alert,
    /// The first alert its record produced: when it turns out to be a duplicate delivery, the
    /// record counts as a duplicate (`RunStats::duplicates`).
    pub first_of_record: bool,
    /// `--max-signals` left it out: only its key is kept (`Alert::strip_document`).
    pub husk: bool,
}

impl Entry {
    pub fn new(alert: Alert, first_of_record: bool) -> Entry {
        Entry {
            alert,
            first_of_record,
            husk: false,
        }
    }

    pub fn footprint(&self) -> usize {
        self.alert.footprint() + std::mem::size_of::<Entry>() - std::mem::size_of::<Alert>()
    }
}

/// The order a store sorts by (total: input order breaks the last tie).
pub(crate) type EntryOrder = Arc<dyn Fn(&Entry, &Entry) -> Ordering + Send + Sync>;

/// What spilling cost a run, for its summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpillStats {
    /// Bytes written to spill files (merge passes included).
    pub bytes: u64,
    /// Spill files written (merge passes included).
    pub files: u64,
    /// Time spent merging spill files.
    pub merge: Duration,
}

impl SpillStats {
    pub(crate) fn add(&mut self, other: &SpillStats) {
        self.bytes += other.bytes;
        self.files += other.files;
        self.merge += other.merge;
    }
}

/// Alerts buffered up to a byte budget, spilled to sorted temporary files past it.
pub(crate) struct AlertStore {
    budget: usize,
    dir: Option<PathBuf>,
    order: EntryOrder,
    buffer: Vec<Entry>,
    buffered: usize,
    runs: Vec<File>,
    stats: SpillStats,
    scratch: Vec<u8>,
}

impl AlertStore {
    /// A store that keeps about `budget` bytes of alerts in memory and spills into `dir` (the
    /// system's temporary folder when `None`).
    pub fn new(budget: usize, dir: Option<PathBuf>, order: EntryOrder) -> AlertStore {
        AlertStore {
            budget,
            dir,
            order,
            buffer: Vec::new(),
            buffered: 0,
            runs: Vec::new(),
            stats: SpillStats::default(),
            scratch: Vec::new(),
        }
    }

    pub fn push(&mut self, entry: Entry) -> io::Result<()> {
        self.buffered += entry.footprint();
        self.buffer.push(entry);
        if self.buffered > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn temp_file(&self) -> io::Result<File> {
        match &self.dir {
            Some(dir) => tempfile::tempfile_in(dir),
            None => tempfile::tempfile(),
        }
    }

    fn spill(&mut self) -> io::Result<()> {
        let order = self.order.clone();
        self.buffer.sort_unstable_by(|a, b| order(a, b));
        let mut out = BufWriter::with_capacity(FILE_BUFFER, self.temp_file()?);
        for entry in self.buffer.drain(..) {
            self.stats.bytes += write_entry(&mut out, &entry, &mut self.scratch)?;
        }
        self.runs
            .push(out.into_inner().map_err(|e| e.into_error())?);
        self.stats.files += 1;
        self.buffered = 0;
        Ok(())
    }

    /// Every alert pushed, in the store's order.
    pub fn into_sorted(mut self) -> io::Result<Sorted> {
        let order = self.order.clone();
        self.buffer.sort_unstable_by(|a, b| order(a, b));
        let started = Instant::now();
        // Merge passes until the files left fit the fan-in (one source is the buffer).
        while self.runs.len() >= MERGE_FAN_IN {
            let group: Vec<File> = self.runs.drain(..MERGE_FAN_IN).collect();
            let sources = group
                .into_iter()
                .map(Source::file)
                .collect::<io::Result<Vec<_>>>()?;
            let mut merge = Merge::new(sources, order.clone())?;
            let mut out = BufWriter::with_capacity(FILE_BUFFER, self.temp_file()?);
            while let Some(entry) = merge.next()? {
                self.stats.bytes += write_entry(&mut out, &entry, &mut self.scratch)?;
            }
            self.runs
                .push(out.into_inner().map_err(|e| e.into_error())?);
            self.stats.files += 1;
        }
        let spilled = !self.runs.is_empty();
        let mut sources = self
            .runs
            .into_iter()
            .map(Source::file)
            .collect::<io::Result<Vec<_>>>()?;
        sources.push(Source::Memory(std::mem::take(&mut self.buffer).into_iter()));
        let merge = Merge::new(sources, order)?;
        let mut stats = self.stats;
        if spilled {
            stats.merge += started.elapsed();
        }
        Ok(Sorted {
            merge,
            stats,
            timed: spilled,
        })
    }
}

/// Writes one entry: its length, its flags, the alert. Returns the bytes written.
fn write_entry(out: &mut impl Write, entry: &Entry, scratch: &mut Vec<u8>) -> io::Result<u64> {
    scratch.clear();
    scratch.push(u8::from(entry.first_of_record) | (u8::from(entry.husk) << 1));
    entry.alert.encode(scratch);
    out.write_all(&(scratch.len() as u64).to_le_bytes())?;
    out.write_all(scratch)?;
    Ok(8 + scratch.len() as u64)
}

/// Reads one entry [`write_entry`] wrote; `None` at the end of the file.
fn read_entry(input: &mut impl Read, scratch: &mut Vec<u8>) -> io::Result<Option<Entry>> {
    let mut len = [0u8; 8];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let damaged = || io::Error::new(io::ErrorKind::InvalidData, "damaged alert spill file");
    let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| damaged())?;
    scratch.clear();
    input.take(len as u64).read_to_end(scratch)?;
    let (&flags, alert) = scratch.split_first().ok_or_else(damaged)?;
    if scratch.len() != len {
        return Err(damaged());
    }
    let alert = Alert::decode(alert).ok_or_else(damaged)?;
    Ok(Some(Entry {
        alert,
        first_of_record: flags & 1 != 0,
        husk: flags & 2 != 0,
    }))
}

enum Source {
    Memory(std::vec::IntoIter<Entry>),
    File(BufReader<File>, Vec<u8>),
}

impl Source {
    fn file(mut file: File) -> io::Result<Source> {
        file.seek(SeekFrom::Start(0))?;
        Ok(Source::File(
            BufReader::with_capacity(FILE_BUFFER, file),
            Vec::new(),
        ))
    }

    fn next(&mut self) -> io::Result<Option<Entry>> {
        match self {
            Source::Memory(entries) => Ok(entries.next()),
            Source::File(input, scratch) => read_entry(input, scratch),
        }
    }
}

/// A k-way merge of sorted sources: a binary heap of their heads.
struct Merge {
    sources: Vec<Source>,
    heads: BinaryHeap<Head>,
}

/// A source's next entry; the heap's top is the least (ties: the lower source).
struct Head {
    entry: Entry,
    source: usize,
    order: EntryOrder,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.order)(&other.entry, &self.entry).then(other.source.cmp(&self.source))
    }
}

impl Merge {
    fn new(mut sources: Vec<Source>, order: EntryOrder) -> io::Result<Merge> {
        let mut heads = BinaryHeap::with_capacity(sources.len());
        for (source, s) in sources.iter_mut().enumerate() {
            if let Some(entry) = s.next()? {
                heads.push(Head {
                    entry,
                    source,
                    order: order.clone(),
                });
            }
        }
        Ok(Merge { sources, heads })
    }

    fn next(&mut self) -> io::Result<Option<Entry>> {
        let Some(mut least) = self.heads.peek_mut() else {
            return Ok(None);
        };
        match self.sources[least.source].next()? {
            Some(next) => Ok(Some(std::mem::replace(&mut least.entry, next))),
            None => Ok(Some(
                std::collections::binary_heap::PeekMut::pop(least).entry,
            )),
        }
    }
}

/// A store's alerts in its order.
pub(crate) struct Sorted {
    merge: Merge,
    stats: SpillStats,
    /// Whether reading counts as merge time (something was spilled).
    timed: bool,
}

impl Sorted {
    pub fn next(&mut self) -> io::Result<Option<Entry>> {
        if !self.timed {
            return self.merge.next();
        }
        let started = Instant::now();
        let next = self.merge.next();
        self.stats.merge += started.elapsed();
        next
    }

    pub fn stats(&self) -> SpillStats {
        self.stats
    }
}

/// Within one rule, the order alerts are output in: (time, timestamp text, event id, uuid,
/// input order); the rule name, the output order's third key, is the same for all.
type RuleKey = (Option<Timestamp>, String, String, String, InputOrder);

fn rule_key(a: &Alert) -> RuleKey {
    (
        a.sort_time,
        a.timestamp.clone(),
        a.event_id.clone(),
        a.uuid.clone(),
        a.order,
    )
}

/// `--max-signals N`: per rule, the N first alerts in output order (deliveries of one alert
/// count once, the first in input order kept), so memory is bounded by N × rules. Sequence
/// building blocks are not counted here: they follow their shell ([`TopN::dropped_groups`]).
pub(crate) struct TopN {
    max: usize,
    /// Per rule, alerts already written while the run went on (`crate::early`): they count
    /// against its N.
    taken: HashMap<usize, usize>,
    rules: HashMap<usize, BTreeMap<RuleKey, Entry>>,
    /// The groups (EQL sequences, samples) whose shell alert was left out.
    dropped_groups: HashSet<String>,
}

impl TopN {
    pub fn new(max: usize) -> TopN {
        TopN {
            max,
            taken: HashMap::new(),
            rules: HashMap::new(),
            dropped_groups: HashSet::new(),
        }
    }

    /// Rules that already wrote alerts (`crate::early`): each keeps only the rest of its N.
    pub fn set_taken(&mut self, taken: HashMap<usize, usize>) {
        self.taken = taken;
    }

    /// Keeps `entry` if it is among its rule's best; what is left out goes to `out` as a husk.
    pub fn insert(
        &mut self,
        entry: Entry,
        out: &mut dyn FnMut(Entry) -> io::Result<()>,
    ) -> io::Result<()> {
        let max = self
            .max
            .saturating_sub(self.taken.get(&entry.alert.rule).copied().unwrap_or(0));
        let kept = self.rules.entry(entry.alert.rule).or_default();
        let key = rule_key(&entry.alert);
        // Another delivery of the same alert: same key but for the input order.
        let same = {
            let (time, timestamp, event_id, uuid, _) = &key;
            let low = (
                *time,
                timestamp.clone(),
                event_id.clone(),
                uuid.clone(),
                (0, 0, 0),
            );
            let high = (
                *time,
                timestamp.clone(),
                event_id.clone(),
                uuid.clone(),
                (usize::MAX, u64::MAX, usize::MAX),
            );
            kept.range(low..=high).next().map(|(k, _)| k.clone())
        };
        if let Some(same) = same {
            if same < key {
                return out(husk(entry));
            }
            let later = kept.remove(&same).expect("found above");
            kept.insert(key, entry);
            return out(husk(later));
        }
        if kept.len() < max {
            kept.insert(key, entry);
            return Ok(());
        }
        let beyond = kept.last_key_value().is_none_or(|(last, _)| key > *last);
        let left_out = if beyond {
            entry
        } else {
            kept.insert(key, entry);
            kept.pop_last().expect("more than max entries").1
        };
        if let Some(group) = left_out.alert.group_id() {
            self.dropped_groups.insert(group.to_string());
        }
        out(husk(left_out))
    }

    /// The alerts kept, and the groups whose shell was left out.
    pub fn into_parts(self) -> (impl Iterator<Item = Entry>, HashSet<String>) {
        (
            self.rules.into_values().flat_map(BTreeMap::into_values),
            self.dropped_groups,
        )
    }
}

fn husk(mut entry: Entry) -> Entry {
    entry.alert.strip_document();
    entry.husk = true;
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(rule: usize, uuid: &str, time: &str, order: InputOrder) -> Alert {
        let doc = json!({"kibana.alert.uuid": uuid, "@timestamp": time, "pad": "x".repeat(200)});
        Alert::new(rule, &doc, &format!("e-{uuid}"), Some(time.into()), order)
    }

    fn by_time() -> EntryOrder {
        Arc::new(|a: &Entry, b: &Entry| {
            (a.alert.sort_time, &a.alert.uuid, a.alert.order).cmp(&(
                b.alert.sort_time,
                &b.alert.uuid,
                b.alert.order,
            ))
        })
    }

    fn alerts(n: usize) -> Vec<Alert> {
        // A scrambled order, with every fifth alert delivered twice.
        let mut out = Vec::new();
        for i in 0..n {
            let k = (i * 7919) % n;
            let time = format!("2024-01-01T00:{:02}:{:02}Z", k / 60 % 60, k % 60);
            out.push(alert(k % 3, &format!("u{k}"), &time, (0, i as u64, 0)));
            if k.is_multiple_of(5) {
                out.push(alert(k % 3, &format!("u{k}"), &time, (1, i as u64, 0)));
            }
        }
        out
    }

    fn sorted(budget: usize, alerts: Vec<Alert>) -> (Vec<(String, InputOrder)>, SpillStats) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::new(budget, Some(dir.path().to_path_buf()), by_time());
        for a in alerts {
            store.push(Entry::new(a, true)).unwrap();
        }
        let mut sorted = store.into_sorted().unwrap();
        let mut out = Vec::new();
        while let Some(e) = sorted.next().unwrap() {
            out.push((e.alert.uuid.clone(), e.alert.order));
        }
        // Spill files are unlinked as soon as they are made: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        (out, sorted.stats())
    }

    #[test]
    fn spilling_gives_the_order_of_an_in_memory_sort() {
        let (in_memory, stats) = sorted(usize::MAX, alerts(1000));
        assert_eq!(stats, SpillStats::default());
        // A budget of about one alert: one spill file per alert, merged in passes (more files
        // than the fan-in).
        let (spilled, stats) = sorted(1, alerts(1000));
        assert_eq!(spilled, in_memory);
        assert!(stats.files > 1000, "{stats:?}");
        assert!(stats.bytes > 200 * 1000, "{stats:?}");
        let (some, stats) = sorted(20_000, alerts(1000));
        assert_eq!(some, in_memory);
        assert!(
            stats.files > 1 && stats.files < MERGE_FAN_IN as u64,
            "{stats:?}"
        );
        // Deliveries of one alert are adjacent, the first in input order first.
        assert_eq!(in_memory.len(), 1200);
        for pair in in_memory.windows(2) {
            if pair[0].0 == pair[1].0 {
                assert!(pair[0].1 < pair[1].1);
            }
        }
    }

    #[test]
    fn entries_keep_their_flags_through_a_spill_file() {
        let mut store = AlertStore::new(0, None, by_time());
        let mut husk_entry = Entry::new(alert(0, "a", "2024-01-01T00:00:00Z", (0, 0, 0)), true);
        husk_entry.husk = true;
        store.push(husk_entry).unwrap();
        store
            .push(Entry::new(
                alert(0, "b", "2024-01-01T00:00:01Z", (0, 0, 1)),
                false,
            ))
            .unwrap();
        let mut sorted = store.into_sorted().unwrap();
        let a = sorted.next().unwrap().unwrap();
        assert!(a.husk && a.first_of_record);
        let b = sorted.next().unwrap().unwrap();
        assert!(!b.husk && !b.first_of_record);
        assert!(sorted.next().unwrap().is_none());
    }

    #[test]
    fn top_n_keeps_the_first_n_per_rule_and_husks_the_rest() {
        let mut top = TopN::new(2);
        let mut left_out = Vec::new();
        let mut push = |top: &mut TopN, a: Alert| {
            top.insert(Entry::new(a, true), &mut |e| {
                left_out.push((
                    e.alert.uuid.clone(),
                    e.alert.order,
                    e.husk,
                    e.alert.json().len(),
                ));
                Ok(())
            })
            .unwrap();
        };
        push(&mut top, alert(0, "c", "2024-01-01T00:00:03Z", (0, 0, 0)));
        push(&mut top, alert(0, "b", "2024-01-01T00:00:02Z", (0, 1, 0)));
        push(&mut top, alert(1, "z", "2024-01-01T00:00:09Z", (0, 1, 1)));
        // Earlier than both kept: "c" is left out.
        push(&mut top, alert(0, "a", "2024-01-01T00:00:01Z", (0, 2, 0)));
        // Later than both kept: left out at once.
        push(&mut top, alert(0, "d", "2024-01-01T00:00:04Z", (0, 3, 0)));
        // A later delivery of a kept alert is left out; an earlier one replaces it.
        push(&mut top, alert(0, "b", "2024-01-01T00:00:02Z", (0, 9, 0)));
        push(&mut top, alert(0, "a", "2024-01-01T00:00:01Z", (0, 0, 5)));
        let names: Vec<_> = left_out.iter().map(|l| (l.0.as_str(), l.1)).collect();
        assert_eq!(
            names,
            [
                ("c", (0, 0, 0)),
                ("d", (0, 3, 0)),
                ("b", (0, 9, 0)),
                ("a", (0, 2, 0))
            ]
        );
        assert!(left_out.iter().all(|l| l.2 && l.3 == 0), "husks only");
        let (kept, dropped) = top.into_parts();
        let mut kept: Vec<_> = kept
            .map(|e| (e.alert.uuid.clone(), e.alert.order))
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            [
                ("a".to_string(), (0, 0, 5)),
                ("b".to_string(), (0, 1, 0)),
                ("z".to_string(), (0, 1, 1))
            ]
        );
        assert!(dropped.is_empty());
    }

    #[test]
    fn top_n_remembers_the_groups_whose_shell_it_left_out() {
        let shell = |uuid: &str, group: &str, time: &str| {
            let doc = json!({"kibana.alert.uuid": uuid, "kibana.alert.group.id": group});
            Alert::new(0, &doc, "", Some(time.into()), (usize::MAX, 0, 0))
        };
        let mut top = TopN::new(1);
        let mut sink = |_: Entry| Ok(());
        top.insert(
            Entry::new(shell("s2", "g2", "2024-01-01T00:00:02Z"), false),
            &mut sink,
        )
        .unwrap();
        top.insert(
            Entry::new(shell("s1", "g1", "2024-01-01T00:00:01Z"), false),
            &mut sink,
        )
        .unwrap();
        let (_, dropped) = top.into_parts();
        assert_eq!(dropped, HashSet::from(["g2".to_string()]));
    }
}
