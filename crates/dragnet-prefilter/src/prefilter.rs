use std::collections::{HashMap, HashSet};

use crate::needle::{MemberValue, Needle, folded_prefix_may_match, member_value_at, member_values};
use crate::probe::{KeyHits, KeyProbe, NeedleProbe, ProbedRecord, Probes};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};
use memchr::memmem;

/// Values found in most records: JSON literals (`readOnly`, `managementEvent` and many request
/// parameters are booleans) and CloudTrail's `userIdentity.type` values.
const COMMON_VALUES: [&[u8]; 13] = [
    b"true",
    b"false",
    b"null",
    b"AssumedRole",
    b"IAMUser",
    b"Root",
    b"AWSService",
    b"AWSAccount",
    b"FederatedUser",
    b"SAMLUser",
    b"WebIdentityUser",
    b"IdentityCenterUser",
    b"Unknown",
];

/// How unlikely a needle is to occur in a record by chance (higher is rarer).
/// - [`COMMON_VALUES`] and needles under 4 bytes: in most records;
/// - needles under 6 bytes (`AKIA` starts every long-term access key id);
/// - service endpoints (`*.amazonaws.com`, the `event.provider` values): in every record of
///   their service and in many `userAgent`, `sourceIPAddress` and `invokedBy` values;
/// - names of read-only calls (`Get…`, `List…`, `Describe…`, `Head…`), which dominate trails;
/// - anything else: longer is rarer.
fn needle_rarity(needle: &[u8]) -> usize {
    let trimmed = needle.strip_prefix(b"\"").unwrap_or(needle);
    let trimmed = trimmed.strip_suffix(b"\"").unwrap_or(trimmed);
    if trimmed.len() < 4 || COMMON_VALUES.contains(&trimmed) {
        0
    } else if trimmed.len() < 6 || trimmed.ends_with(b"amazonaws.com") {
        1
    } else if [&b"Get"[..], b"List", b"Describe", b"Head"]
        .iter()
        .any(|p| trimmed.starts_with(p))
    {
        2
    } else {
        3 + trimmed.len()
    }
}

/// The clause whose weakest alternative is hardest to find by chance: a clause is only as
/// selective as its most common needle (see [`needle_rarity`]).
fn most_selective_clause(clauses: &[Vec<u32>], needles: &[Pattern]) -> usize {
    // Equality with a whole member is rarer than containing its bytes anywhere.
    let needle_score = |id: u32| {
        let n = &needles[id as usize];
        match n.kind {
            // The batch scan finds a case-insensitive needle by every casing of a short window
            // of it (see `case_variants_of_a_window`): four letters, like `crea`, are common.
            Kind::Insensitive => needle_rarity(&n.bytes).min(
                case_variants_of_a_window(&n.bytes)
                    .first()
                    .map_or(0, |w| needle_rarity(w)),
            ),
            Kind::Member(_)
            | Kind::MemberFolded(_)
            | Kind::MemberPrefix(_)
            | Kind::MemberFoldedPrefix(_) => needle_rarity(&n.bytes) + 1,
            Kind::Exact => needle_rarity(&n.bytes),
        }
    };
    clauses
        .iter()
        .enumerate()
        .max_by_key(|(i, clause)| {
            let weakest = clause.iter().map(|&id| needle_score(id)).min().unwrap_or(0);
            // A member clause costs the batch scan a value lookup per record, where a byte
            // clause makes it search every byte: it wins unless its values are common.
            let cheap = weakest >= MEMBER_GATE_MIN_SCORE
                && clause
                    .iter()
                    .all(|&id| needles[id as usize].kind.is_member());
            // Ties: fewer alternatives, then the earlier clause.
            (
                cheap,
                weakest,
                std::cmp::Reverse(clause.len()),
                std::cmp::Reverse(*i),
            )
        })
        .map_or(0, |(i, _)| i)
}

/// How often each clause held in a sample of the input ([`Prefilter::measure`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measured {
    /// Sample records measured (those without escapes).
    pub records: u32,
    /// Per prefiltered rule (in rule order), per clause: the records in which it held.
    pub clause_hits: Vec<Vec<u32>>,
}

/// Fewer usable sample records than this say too little about frequencies: the static gate
/// choice stands (at 256 records one hit is 0.4% of the records).
pub const MIN_SAMPLE_RECORDS: usize = 256;

/// What a byte clause costs as a gate beyond the records it opens, in parts per thousand of
/// the sample: its pattern joins the scan of every byte, where a member clause is a look-up of
/// a value the framer already read. A member clause is kept unless a byte clause opens for at
/// least this much fewer records. Measured on the 1 GB benchmark trail (AWS query pack, AVX2,
/// user CPU): one more byte gate (`includeDeprecated"` for `DescribeImages`, 1.4% of the
/// records) cost 40–60 ms; a record opening a gate costs about 2 µs of exact test, 1% of the
/// records about 15 ms: break-even near 3%.
const BYTE_GATE_COST_PER_MILLE: u32 = 30;

/// The gate by measured frequency: the clause that held in the fewest sample records, a byte
/// clause counted [`BYTE_GATE_COST_PER_MILLE`] worse; ties go to the static choice
/// ([`most_selective_clause`]), which also orders clauses the sample never saw.
fn measured_gate(clauses: &[Vec<u32>], needles: &[Pattern], hits: &[u32], records: u32) -> usize {
    let static_choice = most_selective_clause(clauses, needles);
    let byte_cost = (records * BYTE_GATE_COST_PER_MILLE).div_ceil(1000).max(1);
    (0..clauses.len())
        .min_by_key(|&i| {
            let member = clauses[i]
                .iter()
                .all(|&id| needles[id as usize].kind.is_member());
            let cost = hits[i] + if member { 0 } else { byte_cost };
            (cost, i != static_choice, i)
        })
        .unwrap_or(static_choice)
}

/// The least score (see `most_selective_clause`) of a member clause preferred as a gate over
/// any byte clause: member values other than service endpoints (`iam.amazonaws.com` is in 8%
/// of the benchmark's records), read-only call names included (`DescribeImages`: 1.4%).
const MEMBER_GATE_MIN_SCORE: usize = 3;

/// How often a byte occurs in CloudTrail JSON, roughly: 0 for JSON punctuation, blanks and
/// the commonest lowercase letters and digits, 1 for other lowercase letters and digits, 2 for
/// uppercase letters, 3 for anything else.
fn byte_rarity(b: u8) -> u32 {
    match b {
        b'"' | b':' | b',' | b'.' | b'-' | b'/' | b' ' | b'0'..=b'2' => 0,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'l' | b'c' | b'd' | b'u'
        | b'm' => 0,
        b'a'..=b'z' | b'3'..=b'9' | b'_' | b'{' | b'}' | b'[' | b']' => 1,
        b'A'..=b'Z' => 2,
        _ => 3,
    }
}

/// The suffix of a gate needle the batch scan looks for: a record holding the needle holds
/// every suffix of it. Teddy fingerprints a pattern by its first bytes, so the suffix starts
/// at the rarest 4-byte window (`requestParameters too large` is found by `Parameters too
/// large`: `requ` begins every record's `requestID`).
///
/// A window that occurs in [`COMMON_CLOUDTRAIL`] (keys every record has, the commonest values
/// and name stems) is taken only when every window does: `estParameters too large` would
/// fingerprint every record's `requestParameters` key.
fn rare_suffix(needle: &[u8]) -> &[u8] {
    if needle.len() <= 4 {
        return needle;
    }
    let score = |w: &[u8]| w.iter().map(|&b| byte_rarity(b)).sum::<u32>();
    let uncommon = |w: &[u8]| memmem::find(COMMON_CLOUDTRAIL.as_bytes(), w).is_none();
    let best = (0..=needle.len() - 4)
        .max_by_key(|&k| {
            let w = &needle[k..k + 4];
            (uncommon(w), score(w), std::cmp::Reverse(k))
        })
        .unwrap_or(0);
    &needle[best..]
}

/// Text that is in most CloudTrail records: member keys, the commonest values, and the stems
/// of most event names. A batch-scan pattern should not start with a 4-byte window of it.
const COMMON_CLOUDTRAIL: &str = concat!(
    "eventVersion userIdentity type principalId arn accountId accessKeyId userName ",
    "sessionContext sessionIssuer attributes creationDate mfaAuthenticated ",
    "webIdFederationData invokedBy eventTime eventSource eventName awsRegion ",
    "sourceIPAddress userAgent requestParameters responseElements additionalEventData ",
    "requestID eventID readOnly resources ARN eventType apiVersion managementEvent ",
    "recipientAccountId sharedEventID vpcEndpointId eventCategory tlsDetails tlsVersion ",
    "cipherSuite clientProvidedHostHeader errorCode errorMessage serviceEventDetails ",
    "items value values key name tags filterSet bucketName roleName instanceId ",
    "resourceType resourceId encryptionContext encryptionAlgorithm ",
    "AwsApiCall AwsServiceEvent AwsConsoleSignIn Management Data IAMUser AssumedRole ",
    "AWSService Root AWS Internal amazonaws.com arn:aws: TLSv1.2 TLSv1.3 ",
    "SignatureVersion SigV4 AuthHeader CipherSuite bytesTransferredIn bytesTransferredOut ",
    "AuthenticationMethod ThrottlingException AccessDenied NotFound Exception ",
    "Create Delete Update Describe Get List Put Modify Attach Detach Start Stop Invoke ",
    "Assume AssumeRole Generate GenerateDataKey Decrypt Encrypt Tag Untag Run Terminate ",
    "Instance InstanceInformation Instances BlockDeviceMappings Parameter Parameters ",
    "Secret SecretValue Policy Function Bucket Object Role User Group Key Trail Event ",
    "Events Volume Snapshot Image Security SecurityGroup Network Interface Subnet Vpc ",
);

/// [`COMMON_CLOUDTRAIL`] lowercased, for windows compared in any case.
static COMMON_CLOUDTRAIL_LOWER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| COMMON_CLOUDTRAIL.to_ascii_lowercase());

/// Letters of a case-insensitive needle's window whose every casing is spelled out.
const MAX_FOLDED_LETTERS: usize = 4;

/// Exact patterns standing for an ASCII case-insensitive needle in the batch scan: every
/// casing of one window of it, the longest window (up to 8 bytes) holding at most
/// [`MAX_FOLDED_LETTERS`] letters, the one with fewest letters among those. A record holding
/// the needle in any case holds one of them, and exact patterns keep Aho-Corasick's SIMD
/// search (ASCII case-insensitive automata run many times slower).
fn case_variants_of_a_window(needle: &[u8]) -> Vec<Vec<u8>> {
    let letters = |w: &[u8]| w.iter().filter(|b| b.is_ascii_alphabetic()).count();
    // A window found in every record in some casing (`crea` of `creationDate`) would mark
    // every record: prefer one that is not in common CloudTrail text in any case, then the
    // one with fewest letters, then the rarest bytes, then the first.
    let uncommon = |w: &[u8]| {
        let lower = w.to_ascii_lowercase();
        memmem::find(COMMON_CLOUDTRAIL_LOWER.as_bytes(), &lower).is_none()
    };
    let score = |w: &[u8]| w.iter().map(|&b| byte_rarity(b)).sum::<u32>();
    let mut best: &[u8] = &needle[..needle.len().min(1)];
    'sizes: for len in (1..=needle.len().min(8)).rev() {
        if let Some((_, w)) = needle
            .windows(len)
            .enumerate()
            .filter(|(_, w)| letters(w) <= MAX_FOLDED_LETTERS)
            .max_by_key(|(k, w)| {
                (
                    uncommon(w),
                    std::cmp::Reverse(letters(w)),
                    score(w),
                    std::cmp::Reverse(*k),
                )
            })
        {
            best = w;
            break 'sizes;
        }
    }
    let mut out: Vec<Vec<u8>> = vec![Vec::with_capacity(best.len())];
    for &b in best {
        if b.is_ascii_alphabetic() {
            out = out
                .into_iter()
                .flat_map(|v| {
                    let mut lower = v.clone();
                    lower.push(b.to_ascii_lowercase());
                    let mut upper = v;
                    upper.push(b.to_ascii_uppercase());
                    [lower, upper]
                })
                .collect();
        } else {
            for v in &mut out {
                v.push(b);
            }
        }
    }
    out
}

/// How a needle is looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Exact,
    /// ASCII letters in any case; `bytes` are lowercased.
    Insensitive,
    /// A member's string value; the index of its key in [`Prefilter::members`].
    Member(u8),
    /// A member's string value, ASCII-lowercased (`bytes` are lowercase).
    MemberFolded(u8),
    /// A member's string value starts with `bytes`.
    MemberPrefix(u8),
    /// A member's string value, ASCII-lowercased, starts with `bytes` (lowercase).
    MemberFoldedPrefix(u8),
}

impl Kind {
    /// Decided by reading a member's values, not by searching bytes.
    fn is_member(self) -> bool {
        matches!(
            self,
            Kind::Member(_)
                | Kind::MemberFolded(_)
                | Kind::MemberPrefix(_)
                | Kind::MemberFoldedPrefix(_)
        )
    }
}

#[derive(Debug)]
struct Pattern {
    bytes: Vec<u8>,
    kind: Kind,
}

/// One member key the needles test (`eventName`…), with every value some needle wants.
#[derive(Debug)]
struct MemberKey {
    key: &'static str,
    /// Finds `"key"`.
    finder: memmem::Finder<'static>,
    /// Value -> needle id.
    ids: HashMap<Vec<u8>, u32>,
    /// Lowercased value -> needle id, for the case-insensitive needles.
    folded_ids: HashMap<Vec<u8>, u32>,
    /// The values gate clauses want (the batch scan marks a record holding one). A fast
    /// non-cryptographic hash: this is looked up for every record.
    gate_values: HashSet<Vec<u8>, foldhash::fast::FixedState>,
    /// The lowercased values case-insensitive gate clauses want.
    gate_folded: HashSet<Vec<u8>, foldhash::fast::FixedState>,
    /// Bit `min(n, 127)` is set when some value of `gate_values` (`gate_folded_lengths`: of
    /// `gate_folded`) has `n` bytes: most values are ruled out by their length alone, before
    /// hashing.
    gate_lengths: u128,
    gate_folded_lengths: u128,
    /// Prefix needles (value starts with; case-sensitive, then lowercase ones) -> needle id.
    prefixes: Vec<(Vec<u8>, u32)>,
    folded_prefixes: Vec<(Vec<u8>, u32)>,
    /// The prefixes gate clauses want.
    gate_prefixes: Vec<Vec<u8>>,
    gate_folded_prefixes: Vec<Vec<u8>>,
}

/// The bit of [`MemberKey::gate_lengths`] for a value of `len` bytes.
fn length_bit(len: usize) -> u128 {
    1u128 << len.min(127)
}

/// Longest member value compared case-insensitively without allocating; longer ones count as
/// possible matches.
const MAX_FOLDED_VALUE: usize = 128;

impl MemberKey {
    /// Whether a gate clause may hold for a record where one occurrence of the key reads
    /// `value`.
    fn value_opens_gate(&self, value: MemberValue<'_>) -> bool {
        match value {
            MemberValue::NotAKey => false,
            MemberValue::String(v) => self.opens_gate(v),
            MemberValue::Undecidable => true,
        }
    }

    /// Whether a gate clause may hold for a record whose member has value `v`.
    fn opens_gate(&self, v: &[u8]) -> bool {
        let bit = length_bit(v.len());
        if self.gate_lengths & bit != 0 && self.gate_values.contains(v) {
            return true;
        }
        if self.gate_prefixes.iter().any(|p| v.starts_with(p))
            || self
                .gate_folded_prefixes
                .iter()
                .any(|p| folded_prefix_may_match(v, p))
        {
            return true;
        }
        if self.gate_folded.is_empty() {
            return false;
        }
        // ASCII lowercasing keeps the length (Unicode case folding may not: see `folded`).
        if self.gate_folded_lengths & bit == 0 && v.is_ascii() {
            return false;
        }
        self.folded(v, |lower| {
            lower.is_none_or(|l| self.gate_folded.contains(l))
        })
    }

    /// Whether some gate clause tests this key's value.
    fn has_gate(&self) -> bool {
        !(self.gate_values.is_empty()
            && self.gate_folded.is_empty()
            && self.gate_prefixes.is_empty()
            && self.gate_folded_prefixes.is_empty())
    }

    /// Every needle id this key decides.
    fn all_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids
            .values()
            .chain(self.folded_ids.values())
            .copied()
            .chain(self.prefixes.iter().map(|(_, id)| *id))
            .chain(self.folded_prefixes.iter().map(|(_, id)| *id))
    }

    /// Calls `f` with `v` ASCII-lowercased, or with `None` when it cannot be compared that way
    /// (non-ASCII bytes, which Unicode case folding could map onto ASCII; or very long).
    fn folded<T>(&self, v: &[u8], f: impl FnOnce(Option<&[u8]>) -> T) -> T {
        if !v.is_ascii() || v.len() > MAX_FOLDED_VALUE {
            return f(None);
        }
        let mut buf = [0u8; MAX_FOLDED_VALUE];
        let lower = &mut buf[..v.len()];
        lower.copy_from_slice(v);
        lower.make_ascii_lowercase();
        f(Some(lower))
    }
}

/// Up to this many byte gate needles are searched one by one (memmem) in a record whose gate
/// is asked about, rather than all at once by an overlapping automaton (which, without a
/// SIMD prefilter, crawls through every byte).
const LAZY_GATE_NEEDLES: usize = 16;

/// The batch-level scan.
#[derive(Debug)]
enum BatchScan {
    /// Some rule sees every record: nothing to scan for.
    EveryRecord,
    /// Escapes (`\\u`, `\\/`, found by memchr of the rare `\\`), member gate values, and
    /// the exact gate needles plus stand-ins for the case-insensitive ones in one
    /// leftmost-first automaton (which, unlike the overlapping kind, keeps the SIMD Teddy
    /// prefilter; the escapes stay out of it, as 2-byte patterns would weaken its fingerprints).
    Gated(Option<BatchAutomaton>, Vec<Vec<u8>>),
}

/// The batch scan's searcher over the gate patterns.
#[derive(Debug)]
enum BatchAutomaton {
    /// Teddy, forced: for a few patterns Aho-Corasick would rather pick a "rare bytes"
    /// prefilter, whose notion of rare (from ordinary text) misfires on JSON.
    Teddy(aho_corasick::packed::Searcher),
    /// Too many patterns, or no SIMD: Aho-Corasick picks.
    General(AhoCorasick),
    /// Up to [`MEMMEM_BATCH_PATTERNS`] patterns: one memmem search per pattern over the batch
    /// (each faster than Teddy, which runs at the same speed for one pattern as for many).
    Finders(Vec<memmem::Finder<'static>>),
}

/// Up to this many batch patterns are searched one by one with memmem, rather than all at once
/// with Teddy. Measured with `hunt` over the 1 GB benchmark trail (AWS pack plus rules adding
/// rare byte patterns, user CPU): with 2 patterns memmem saves 65 ms of 490, with 3 they tie,
/// with 4, 5, 6 Teddy is 20, 40, 80 ms cheaper (memmem's cost grows with each pattern,
/// Teddy's does not). Ties go to Teddy, whose speed does not depend on the bytes.
const MEMMEM_BATCH_PATTERNS: usize = 2;

impl BatchAutomaton {
    fn new(patterns: &[Vec<u8>]) -> BatchAutomaton {
        if patterns.len() <= MEMMEM_BATCH_PATTERNS {
            return BatchAutomaton::Finders(
                patterns
                    .iter()
                    .map(|p| memmem::Finder::new(p).into_owned())
                    .collect(),
            );
        }
        Self::automaton(patterns)
    }

    fn automaton(patterns: &[Vec<u8>]) -> BatchAutomaton {
        let teddy = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(patterns)
            .build();
        match teddy {
            Some(searcher) => BatchAutomaton::Teddy(searcher),
            None => BatchAutomaton::General(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(patterns)
                    .expect("gate automaton within default size limits"),
            ),
        }
    }

    /// Sets `hit[i]` for every record `records[i]` in which a match starts (a match running
    /// past the record's end still marks it; one between records marks nothing), searching
    /// from the first record's start to the last one's end.
    fn mark<R: ProbedRecord>(&self, buf: &[u8], records: &[R], hit: &mut [bool]) {
        match self {
            BatchAutomaton::Teddy(s) => mark_matches(records, hit, |at, end| {
                s.find_in(buf, aho_corasick::Span { start: at, end })
                    .map(|m| m.start())
            }),
            BatchAutomaton::General(ac) => mark_matches(records, hit, |at, end| {
                ac.find(Input::new(buf).span(at..end)).map(|m| m.start())
            }),
            // A record holds a match of some pattern iff it holds one of one pattern: the
            // patterns may be searched for one after the other.
            BatchAutomaton::Finders(finders) => {
                for f in finders {
                    mark_matches(records, hit, |at, end| {
                        f.find(&buf[at..end]).map(|found| at + found)
                    });
                }
            }
        }
    }
}

/// The marking loop of [`BatchAutomaton::mark`]: `find(at, end)` is the start of the first
/// match within `at..end`.
fn mark_matches<R: ProbedRecord>(
    records: &[R],
    hit: &mut [bool],
    find: impl Fn(usize, usize) -> Option<usize>,
) {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return;
    };
    let end = last.range().end;
    let mut at = first.range().start;
    let mut i = 0;
    while at < end {
        let Some(start) = find(at, end) else {
            break;
        };
        match record_holding(records, &mut i, start) {
            // Inside record i (a match running past its end still marks it: the exact test
            // decides). The rest of the record need not be searched.
            Some(true) => {
                hit[i] = true;
                i += 1;
                at = records.get(i).map_or(end, |r| r.range().start);
            }
            // Between records: not an occurrence in any record; look again one byte on (not
            // past the match, which could hide one starting inside it).
            _ => at = start + 1,
        }
    }
}

/// For positions `at` visited in ascending order, `i` starting at 0: moves `i` to the first
/// record not ending at or before `at`, and says whether that record holds `at` (`false`: `at`
/// lies between records; `None`: past the last one).
fn record_holding<R: ProbedRecord>(records: &[R], i: &mut usize, at: usize) -> Option<bool> {
    while records.get(*i).is_some_and(|r| r.range().end <= at) {
        *i += 1;
    }
    records.get(*i).map(|r| r.range().start <= at)
}

/// How the prefilter handled one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleFiltering {
    /// At least one clause is fully covered by needles: records lacking it are skipped.
    Prefiltered { clauses: usize },
    /// No usable clause: every record is evaluated for this rule.
    Always,
    /// A clause no raw CloudTrail record can satisfy: the rule never sees one (ECS documents
    /// are still evaluated).
    Never,
}

/// The prefilter over a rule set. Rules are numbered by their position in the input of
/// [`Prefilter::build`].
#[derive(Debug)]
pub struct Prefilter {
    needles: Vec<Pattern>,
    /// One searcher per byte needle (`None` for member needles, which the member pass
    /// decides), for the clauses of rules whose gate opened; each runs at most once per record.
    searchers: Vec<Option<NeedleSearcher>>,
    /// Whether a needle's presence is known once the gate automata and the member pass ran.
    in_gate: Vec<bool>,
    /// The byte needles of every prefiltered rule's gate clause, in up to two automata
    /// (case-sensitive needles matched exactly, which lets Aho-Corasick use its fast SIMD
    /// prefilters; then the ASCII-case-insensitive ones). Pattern `i` is needle `ids[i]`.
    gate_automata: Vec<(AhoCorasick, Vec<u32>)>,
    members: Vec<MemberKey>,
    /// See [`Prefilter::probe_key`].
    probe_key: Option<&'static str>,
    /// See [`Prefilter::probe_needles`].
    probe_needles: Vec<Vec<u8>>,
    /// Per prefiltered rule: its clauses, each a list of needle ids (any one satisfies it).
    rules: Vec<(usize, Vec<Vec<u32>>)>,
    /// Per entry of `rules`: the index of its gate clause.
    gates: Vec<usize>,
    /// Rules evaluated on every record.
    always: Vec<usize>,
    /// Rules no raw record can match.
    never: Vec<usize>,
    rule_count: usize,
    /// What [`Prefilter::mark_batch`] scans a batch for.
    any_gate: BatchScan,
    escape_u: memmem::Finder<'static>,
    escape_slash: memmem::Finder<'static>,
}

/// Scratch space for [`Prefilter::candidates`], one per worker thread.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Per needle: [`UNKNOWN`], [`PRESENT`] or [`ABSENT`] in the current record.
    state: Vec<u8>,
    /// Needles whose state was set for the current record, to reset them cheaply.
    touched: Vec<u32>,
}

const UNKNOWN: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT: u8 = 2;

/// Finds one needle in a record.
#[derive(Debug)]
enum NeedleSearcher {
    Exact(Box<memmem::Finder<'static>>),
    /// ASCII letters in any case (memchr has no case-insensitive memmem).
    Insensitive(AhoCorasick),
}

impl NeedleSearcher {
    fn new(needle: &[u8], insensitive: bool) -> Self {
        if insensitive {
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .build([needle])
                .expect("one needle is within default size limits");
            NeedleSearcher::Insensitive(ac)
        } else {
            NeedleSearcher::Exact(Box::new(memmem::Finder::new(needle).into_owned()))
        }
    }

    fn is_in(&self, record: &[u8]) -> bool {
        match self {
            NeedleSearcher::Exact(finder) => finder.find(record).is_some(),
            NeedleSearcher::Insensitive(ac) => ac.is_match(record),
        }
    }
}

impl Prefilter {
    /// Builds the prefilter. `rules[i]` is rule i's CNF: clauses of needle alternatives. Each
    /// rule's gate is chosen by the static score (see [`needle_rarity`]).
    pub fn build(rules: &[Vec<Vec<Needle>>]) -> Self {
        Self::build_with(rules, None)
    }

    /// Like [`Prefilter::build`], but each rule's gate (and the order its other clauses are
    /// tested in) is chosen by how often the clauses held in `sample`, records of the input
    /// about to be read: where `GetObject` is in 15% of the
    /// records, a rule gated on it picks a rarer clause when it has one. A sample of fewer
    /// than [`MIN_SAMPLE_RECORDS`] usable records says too little: the static choice stands.
    /// Which gate is chosen never changes which rules a record is a candidate for.
    pub fn build_measured(rules: &[Vec<Vec<Needle>>], sample: &[&[u8]]) -> Self {
        let unmeasured = Self::build_with(rules, None);
        match unmeasured.measure(sample) {
            Some(measured) => Self::build_with(rules, Some(&measured)),
            None => unmeasured,
        }
    }

    /// Builds the prefilter with the gates [`Prefilter::build_measured`] would choose for a
    /// sample measured as `measured` (by [`Prefilter::measure`] of a prefilter built from the
    /// same `rules`).
    pub fn build_for(rules: &[Vec<Vec<Needle>>], measured: &Measured) -> Self {
        Self::build_with(rules, Some(measured))
    }

    /// Whether some rule has a gate (is prefiltered at all).
    pub fn has_gates(&self) -> bool {
        !self.rules.is_empty()
    }

    /// How often each clause of each prefiltered rule held in `sample` (records holding an
    /// escape left out: they are evaluated whatever the gates); `None` when fewer than
    /// [`MIN_SAMPLE_RECORDS`] records were usable or nothing is prefiltered.
    pub fn measure(&self, sample: &[&[u8]]) -> Option<Measured> {
        if self.rules.is_empty() {
            return None;
        }
        let usable: Vec<&[u8]> = sample
            .iter()
            .copied()
            .filter(|r| !self.has_escape(r))
            .collect();
        if usable.len() < MIN_SAMPLE_RECORDS {
            return None;
        }
        let present = crate::selectivity::NeedlePresence::new(&self.needles_for_measuring());
        let mut seen = vec![false; self.needles.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut clause_hits: Vec<Vec<u32>> = self
            .rules
            .iter()
            .map(|(_, clauses)| vec![0; clauses.len()])
            .collect();
        for record in &usable {
            for id in touched.drain(..) {
                seen[id as usize] = false;
            }
            present.found_in(record, &mut |id| {
                if !seen[id as usize] {
                    seen[id as usize] = true;
                    touched.push(id);
                }
            });
            for ((_, clauses), hits) in self.rules.iter().zip(&mut clause_hits) {
                for (clause, h) in clauses.iter().zip(hits.iter_mut()) {
                    if clause.iter().any(|&id| seen[id as usize]) {
                        *h += 1;
                    }
                }
            }
        }
        Some(Measured {
            records: usable.len() as u32,
            clause_hits,
        })
    }

    /// The needles as [`crate::selectivity::NeedlePresence`] reads them.
    fn needles_for_measuring(&self) -> Vec<(crate::selectivity::Test, &str)> {
        use crate::selectivity::Test;
        self.needles
            .iter()
            .map(|n| {
                let key = |k: u8| self.members[k as usize].key;
                match n.kind {
                    Kind::Exact => (Test::Bytes(n.bytes.clone()), ""),
                    Kind::Insensitive => (Test::Folded(n.bytes.clone()), ""),
                    Kind::Member(k) => (Test::Member(n.bytes.clone()), key(k)),
                    Kind::MemberFolded(k) => (Test::MemberFolded(n.bytes.clone()), key(k)),
                    Kind::MemberPrefix(k) => (Test::MemberPrefix(n.bytes.clone()), key(k)),
                    Kind::MemberFoldedPrefix(k) => {
                        (Test::MemberFoldedPrefix(n.bytes.clone()), key(k))
                    }
                }
            })
            .collect()
    }

    fn build_with(rules: &[Vec<Vec<Needle>>], measured: Option<&Measured>) -> Self {
        let mut needles: Vec<Pattern> = Vec::new();
        let mut ids: HashMap<(Kind, Vec<u8>), u32> = HashMap::new();
        let mut member_keys: Vec<&'static str> = Vec::new();
        let mut intern = |kind: Kind, bytes: Vec<u8>, needles: &mut Vec<Pattern>| -> u32 {
            *ids.entry((kind, bytes.clone())).or_insert_with(|| {
                needles.push(Pattern { bytes, kind });
                (needles.len() - 1) as u32
            })
        };
        let mut prefiltered: Vec<(usize, Vec<Vec<u32>>)> = Vec::new();
        let mut always = Vec::new();
        let mut never = Vec::new();
        'rules: for (rule, cnf) in rules.iter().enumerate() {
            let mut clauses = Vec::new();
            for clause in cnf {
                if clause.is_empty() || clause.contains(&Needle::Constant(true)) {
                    continue;
                }
                let clause: Vec<&Needle> = clause
                    .iter()
                    .filter(|n| **n != Needle::Constant(false))
                    .collect();
                if clause.is_empty() {
                    // Every alternative is a constant that differs: no record can match.
                    never.push(rule);
                    continue 'rules;
                }
                let usable = clause.iter().all(|n| match n {
                    Needle::Bytes(b) | Needle::CaseInsensitive(b) => !b.is_empty(),
                    Needle::Member { value, .. }
                    | Needle::MemberFolded { value, .. }
                    | Needle::MemberPrefix { value, .. }
                    | Needle::MemberFoldedPrefix { value, .. } => !value.is_empty(),
                    Needle::Unknown | Needle::Constant(true) | Needle::Constant(false) => false,
                });
                if !usable {
                    continue;
                }
                let ids = clause
                    .into_iter()
                    .map(|needle| match needle {
                        Needle::Bytes(b) => intern(Kind::Exact, b.clone(), &mut needles),
                        Needle::CaseInsensitive(b) => {
                            intern(Kind::Insensitive, b.to_ascii_lowercase(), &mut needles)
                        }
                        Needle::Member { key, value }
                        | Needle::MemberFolded { key, value }
                        | Needle::MemberPrefix { key, value }
                        | Needle::MemberFoldedPrefix { key, value } => {
                            let k = member_keys
                                .iter()
                                .position(|k| k == key)
                                .unwrap_or_else(|| {
                                    member_keys.push(key);
                                    member_keys.len() - 1
                                }) as u8;
                            let kind = match needle {
                                Needle::Member { .. } => Kind::Member(k),
                                Needle::MemberFolded { .. } => Kind::MemberFolded(k),
                                Needle::MemberPrefix { .. } => Kind::MemberPrefix(k),
                                _ => Kind::MemberFoldedPrefix(k),
                            };
                            intern(kind, value.clone(), &mut needles)
                        }
                        Needle::Unknown | Needle::Constant(true) | Needle::Constant(false) => {
                            unreachable!("filtered above")
                        }
                    })
                    .collect();
                clauses.push(ids);
            }
            if clauses.is_empty() {
                always.push(rule);
            } else {
                prefiltered.push((rule, clauses));
            }
        }
        let searchers = needles
            .iter()
            .map(|n| match n.kind {
                Kind::Exact => Some(NeedleSearcher::new(&n.bytes, false)),
                Kind::Insensitive => Some(NeedleSearcher::new(&n.bytes, true)),
                Kind::Member(_)
                | Kind::MemberFolded(_)
                | Kind::MemberPrefix(_)
                | Kind::MemberFoldedPrefix(_) => None,
            })
            .collect();
        // A measurement of other rules would misplace every gate: then the static choice.
        let measured = measured.filter(|m| {
            m.clause_hits.len() == prefiltered.len()
                && m.clause_hits
                    .iter()
                    .zip(&prefiltered)
                    .all(|(hits, (_, clauses))| hits.len() == clauses.len())
        });
        let gates: Vec<usize> = match measured {
            None => prefiltered
                .iter()
                .map(|(_, clauses)| most_selective_clause(clauses, &needles))
                .collect(),
            Some(m) => {
                // The gate first, then the other clauses rarest first: a record that opens the
                // gate is rejected by the clause most likely to fail.
                for ((_, clauses), hits) in prefiltered.iter_mut().zip(&m.clause_hits) {
                    let gate = measured_gate(clauses, &needles, hits, m.records);
                    let mut order: Vec<usize> = (0..clauses.len()).collect();
                    order.sort_by_key(|&i| (i != gate, hits[i], i));
                    let mut taken: Vec<Option<Vec<u32>>> =
                        std::mem::take(clauses).into_iter().map(Some).collect();
                    *clauses = order
                        .into_iter()
                        .map(|i| taken[i].take().expect("each clause once"))
                        .collect();
                }
                vec![0; prefiltered.len()]
            }
        };
        let mut gate_ids: Vec<u32> = prefiltered
            .iter()
            .zip(&gates)
            .flat_map(|((_, clauses), &g)| clauses[g].iter().copied())
            .collect();
        gate_ids.sort_unstable();
        gate_ids.dedup();

        let mut members: Vec<MemberKey> = member_keys
            .iter()
            .map(|&key| MemberKey {
                key,
                finder: memmem::Finder::new(format!("\"{key}\"").as_bytes()).into_owned(),
                ids: HashMap::new(),
                folded_ids: HashMap::new(),
                gate_values: HashSet::default(),
                gate_folded: HashSet::default(),
                gate_lengths: 0,
                gate_folded_lengths: 0,
                prefixes: Vec::new(),
                folded_prefixes: Vec::new(),
                gate_prefixes: Vec::new(),
                gate_folded_prefixes: Vec::new(),
            })
            .collect();
        let mut in_gate = vec![false; needles.len()];
        for (id, n) in needles.iter().enumerate() {
            match n.kind {
                Kind::Member(k) => {
                    members[k as usize].ids.insert(n.bytes.clone(), id as u32);
                    in_gate[id] = true;
                }
                Kind::MemberFolded(k) => {
                    members[k as usize]
                        .folded_ids
                        .insert(n.bytes.clone(), id as u32);
                    in_gate[id] = true;
                }
                Kind::MemberPrefix(k) => {
                    members[k as usize]
                        .prefixes
                        .push((n.bytes.clone(), id as u32));
                    in_gate[id] = true;
                }
                Kind::MemberFoldedPrefix(k) => {
                    members[k as usize]
                        .folded_prefixes
                        .push((n.bytes.clone(), id as u32));
                    in_gate[id] = true;
                }
                Kind::Exact | Kind::Insensitive => {}
            }
        }
        let mut exact_gate = Vec::new();
        let mut insensitive_gate = Vec::new();
        for &id in &gate_ids {
            let n = &needles[id as usize];
            match n.kind {
                Kind::Exact => exact_gate.push(id),
                Kind::Insensitive => insensitive_gate.push(id),
                Kind::Member(k) => {
                    members[k as usize].gate_values.insert(n.bytes.clone());
                    members[k as usize].gate_lengths |= length_bit(n.bytes.len());
                }
                Kind::MemberFolded(k) => {
                    members[k as usize].gate_folded.insert(n.bytes.clone());
                    members[k as usize].gate_folded_lengths |= length_bit(n.bytes.len());
                }
                Kind::MemberPrefix(k) => members[k as usize].gate_prefixes.push(n.bytes.clone()),
                Kind::MemberFoldedPrefix(k) => members[k as usize]
                    .gate_folded_prefixes
                    .push(n.bytes.clone()),
            }
        }
        // A few exact byte gate needles can be found by the framer in its own pass over each
        // line ([`Probes::needles`]), sparing the batch scan.
        let probe_needles: Vec<Vec<u8>> = if insensitive_gate.is_empty()
            && !exact_gate.is_empty()
            && exact_gate.len() <= crate::probe::MAX_NEEDLE_PROBES
            && exact_gate
                .iter()
                .all(|&id| NeedleProbe::new(&needles[id as usize].bytes).is_some())
        {
            exact_gate
                .iter()
                .map(|&id| needles[id as usize].bytes.clone())
                .collect()
        } else {
            Vec::new()
        };
        // Few byte gate needles are searched one by one (memmem, when a record's gate is
        // asked about); many are found in one overlapping automaton pass over the record.
        let gate_automata: Vec<(AhoCorasick, Vec<u32>)> =
            if exact_gate.len() + insensitive_gate.len() <= LAZY_GATE_NEEDLES {
                Vec::new()
            } else {
                [(exact_gate, false), (insensitive_gate, true)]
                    .into_iter()
                    .filter(|(ids, _)| !ids.is_empty())
                    .map(|(ids, insensitive)| {
                        let patterns: Vec<&[u8]> = ids
                            .iter()
                            .map(|&id| needles[id as usize].bytes.as_slice())
                            .collect();
                        let ac = AhoCorasickBuilder::new()
                            .match_kind(MatchKind::Standard)
                            .ascii_case_insensitive(insensitive)
                            // A full DFA: a few hundred needles stay small.
                            .kind(Some(AhoCorasickKind::DFA))
                            .build(patterns)
                            .expect("gate automaton within default size limits");
                        (ac, ids)
                    })
                    .collect()
            };
        for (_, ids) in &gate_automata {
            for &id in ids {
                in_gate[id as usize] = true;
            }
        }
        // Rules without a gate see every record, but only they: the batch scan still tells
        // which records may open another rule's gate.
        let any_gate = if !prefiltered.is_empty() {
            let mut exact: Vec<Vec<u8>> = Vec::new();
            for &id in &gate_ids {
                let n = &needles[id as usize];
                match n.kind {
                    Kind::Exact => exact.push(rare_suffix(&n.bytes).to_vec()),
                    Kind::Insensitive => exact.extend(case_variants_of_a_window(&n.bytes)),
                    Kind::Member(_)
                    | Kind::MemberFolded(_)
                    | Kind::MemberPrefix(_)
                    | Kind::MemberFoldedPrefix(_) => {}
                }
            }
            exact.sort();
            exact.dedup();
            BatchScan::Gated(
                (!exact.is_empty()).then(|| BatchAutomaton::new(&exact)),
                exact,
            )
        } else {
            BatchScan::EveryRecord
        };
        // The framer can note where one member key occurs while it frames: the one the most
        // gate values are read from.
        let probe_key = match &any_gate {
            BatchScan::Gated(..) => members
                .iter()
                .filter(|m| m.has_gate())
                .max_by_key(|m| {
                    m.gate_values.len()
                        + m.gate_folded.len()
                        + m.gate_prefixes.len()
                        + m.gate_folded_prefixes.len()
                })
                .map(|m| m.key),
            BatchScan::EveryRecord => None,
        };
        Self {
            needles,
            searchers,
            in_gate,
            gate_automata,
            members,
            probe_key,
            probe_needles,
            gates,
            rules: prefiltered,
            always,
            never,
            rule_count: rules.len(),
            any_gate,
            escape_u: memmem::Finder::new(b"\\u").into_owned(),
            escape_slash: memmem::Finder::new(b"\\/").into_owned(),
        }
    }

    /// The member key whose occurrences [`Prefilter::mark_batch`] would like the framer to note
    /// ([`Probes::key`]): the one most gate values are read from.
    pub fn probe_key(&self) -> Option<&'static str> {
        self.probe_key
    }

    /// The byte gate needles [`Prefilter::mark_batch`] would like the framer to look for
    /// ([`Probes::needles`]): all of them, when they are few and
    /// exact; else none.
    pub fn probe_needles(&self) -> &[Vec<u8>] {
        &self.probe_needles
    }

    /// What a framer should note about each record for [`Prefilter::mark_batch`]: the probe
    /// key and needles, as far as they can be probed.
    pub fn probes(&self) -> Probes {
        Probes {
            key: self.probe_key().and_then(KeyProbe::new),
            needles: self
                .probe_needles()
                .iter()
                .filter_map(|n| NeedleProbe::new(n))
                .collect(),
        }
    }

    /// The rules without a gate (ascending): every record is evaluated for them, including
    /// those [`Prefilter::mark_batch`] leaves unmarked.
    pub fn ungated_rules(&self) -> &[usize] {
        &self.always
    }

    /// How rule `rule` is filtered.
    pub fn filtering(&self, rule: usize) -> RuleFiltering {
        if self.never.contains(&rule) {
            return RuleFiltering::Never;
        }
        match self.rules.iter().find(|(r, _)| *r == rule) {
            Some((_, clauses)) => RuleFiltering::Prefiltered {
                clauses: clauses.len(),
            },
            None => RuleFiltering::Always,
        }
    }

    /// The needles every record is scanned for (gate clauses), as text: `(any case)` marks
    /// the ASCII case-insensitive ones, `key="value"` the member equalities, `key="value*"` the
    /// member prefixes. For `hunt -vv`.
    pub fn gate_needles(&self) -> Vec<String> {
        let mut ids: Vec<u32> = self
            .rules
            .iter()
            .zip(&self.gates)
            .flat_map(|((_, clauses), &g)| clauses[g].iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .map(|id| {
                let n = &self.needles[id as usize];
                let text = String::from_utf8_lossy(&n.bytes);
                match n.kind {
                    Kind::Exact => text.into_owned(),
                    Kind::Insensitive => format!("{text} (any case)"),
                    Kind::Member(k) => format!("{}=\"{text}\"", self.members[k as usize].key),
                    Kind::MemberFolded(k) => {
                        format!("{}=\"{text}\" (any case)", self.members[k as usize].key)
                    }
                    Kind::MemberPrefix(k) => {
                        format!("{}=\"{text}*\"", self.members[k as usize].key)
                    }
                    Kind::MemberFoldedPrefix(k) => {
                        format!("{}=\"{text}*\" (any case)", self.members[k as usize].key)
                    }
                }
            })
            .collect()
    }

    /// The byte patterns the batch scan searches every record for (a gate needle, or the rare
    /// end of one, or a casing of a window of a case-insensitive one), as text.
    pub fn batch_patterns(&self) -> Vec<String> {
        match &self.any_gate {
            BatchScan::Gated(_, patterns) => patterns
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
            BatchScan::EveryRecord => Vec::new(),
        }
    }

    /// Distinct needles.
    pub fn needle_count(&self) -> usize {
        self.needles.len()
    }

    /// True when the record holds a JSON escape that could spell a needle differently; such a
    /// record is evaluated against every rule.
    pub fn has_escape(&self, record: &[u8]) -> bool {
        self.escape_u.find(record).is_some() || self.escape_slash.find(record).is_some()
    }

    /// Whether needle `id` is in `record`: known after the gate scan for gate needles and
    /// members, otherwise searched once and remembered in `scratch`.
    fn present(&self, id: u32, record: &[u8], scratch: &mut Scratch) -> bool {
        let i = id as usize;
        match scratch.state[i] {
            PRESENT => true,
            ABSENT => false,
            _ if self.in_gate[i] => false,
            _ => {
                let found = self.searchers[i].as_ref().is_some_and(|s| s.is_in(record));
                scratch.state[i] = if found { PRESENT } else { ABSENT };
                scratch.touched.push(id);
                found
            }
        }
    }

    /// Batch-level prefilter: sets `hit[i]` for every record `records[i]` (byte ranges of
    /// `buf`, ascending, not overlapping) that may have a candidate rule with a gate; `false`
    /// means [`Prefilter::candidates`] would return only the [`Prefilter::ungated_rules`] for
    /// it (nothing, when every rule has a gate). Scans of the whole batch (the byte gate
    /// needles and escapes; each member key) find the few records that open a gate, instead of
    /// running an automaton per record. Returns `false` (and leaves `hit` all `true`) when no
    /// rule has a gate.
    ///
    /// What the framer noted while framing spares scans: escapes
    /// ([`ProbedRecord::escaped`]) and the byte gate needles
    /// ([`ProbedRecord::needle_hit`], for [`Prefilter::probe_needles`]) when it
    /// looked in every record, where [`Prefilter::probe_key`] is
    /// ([`ProbedRecord::key_hits`]) and the value after it
    /// ([`ProbedRecord::key_value`]) in the records it looked at. Whatever it did
    /// not note is searched for here.
    pub fn mark_batch<R: ProbedRecord>(
        &self,
        buf: &[u8],
        records: &[R],
        hit: &mut Vec<bool>,
    ) -> bool {
        hit.clear();
        let BatchScan::Gated(automaton, _) = &self.any_gate else {
            hit.resize(records.len(), true);
            return false;
        };
        hit.resize(records.len(), false);
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return true;
        };
        let region = first.range().start..last.range().end;
        // Escapes: `\\` is rare in CloudTrail (escaped quotes in policy documents, mostly).
        if records.iter().all(|r| r.escaped().is_some()) {
            for (h, r) in hit.iter_mut().zip(records) {
                *h = r.escaped() == Some(true);
            }
        } else {
            let mut i = 0;
            for found in memchr::memchr_iter(b'\\', &buf[region.clone()]) {
                let at = region.start + found;
                if !matches!(buf.get(at + 1), Some(b'u' | b'/')) {
                    continue;
                }
                match record_holding(records, &mut i, at) {
                    Some(true) => hit[i] = true,
                    Some(false) => {}
                    None => break,
                }
            }
        }
        if !self.probe_needles.is_empty() && records.iter().all(|r| r.needle_hit().is_some()) {
            // The framer looked for every byte gate needle (whole, not just the batch
            // patterns' suffixes).
            for (h, r) in hit.iter_mut().zip(records) {
                *h |= r.needle_hit() == Some(true);
            }
        } else if let Some(any) = automaton {
            any.mark(buf, records, hit);
        }
        let looked = records.iter().any(|r| r.key_hits() != KeyHits::NotLooked);
        for member in &self.members {
            if !member.has_gate() {
                continue;
            }
            let key_len = member.finder.needle().len();
            if looked && Some(member.key) == self.probe_key() {
                // The framer found the key while framing: read the values where it is.
                for (r, h) in records.iter().zip(hit.iter_mut()) {
                    if *h {
                        continue;
                    }
                    let record = &buf[r.range()];
                    *h = match (r.key_hits(), r.key_value()) {
                        (KeyHits::Absent, _) => false,
                        // The value the framer read: most are ruled out by their length,
                        // without reading the record.
                        (KeyHits::Once(_), Some((start, len))) => {
                            let start = start as usize;
                            member.opens_gate(&record[start..start + len as usize])
                        }
                        (KeyHits::Once(at), None) => {
                            member.value_opens_gate(member_value_at(record, at as usize + key_len))
                        }
                        (KeyHits::Several | KeyHits::NotLooked, _) => {
                            let mut open = false;
                            let decidable = member_values(record, &member.finder, &mut |v| {
                                open |= member.opens_gate(v);
                            });
                            open || !decidable
                        }
                    };
                }
                continue;
            }
            let mut i = 0;
            for found in member.finder.find_iter(&buf[region.clone()]) {
                let at = region.start + found;
                match record_holding(records, &mut i, at) {
                    None => break,
                    Some(false) => continue,
                    Some(true) if hit[i] => continue,
                    Some(true) => {}
                }
                let r = &records[i];
                hit[i] = member.value_opens_gate(member_value_at(
                    &buf[r.range()],
                    at - r.range().start + key_len,
                ));
            }
        }
        true
    }

    fn mark_present(id: u32, scratch: &mut Scratch) {
        if scratch.state[id as usize] != PRESENT {
            scratch.state[id as usize] = PRESENT;
            scratch.touched.push(id);
        }
    }

    /// Pushes onto `out` (in ascending rule order) every rule that must be evaluated on `record`.
    pub fn candidates(&self, record: &[u8], scratch: &mut Scratch, out: &mut Vec<usize>) {
        out.clear();
        if self.has_escape(record) {
            out.extend(0..self.rule_count);
            return;
        }
        if self.rules.is_empty() {
            out.extend_from_slice(&self.always);
            return;
        }
        if scratch.state.len() < self.needles.len() {
            scratch.state.resize(self.needles.len(), UNKNOWN);
        }
        for &id in &scratch.touched {
            scratch.state[id as usize] = UNKNOWN;
        }
        scratch.touched.clear();
        for (gate, ids) in &self.gate_automata {
            for m in gate.find_overlapping_iter(record) {
                Self::mark_present(ids[m.pattern().as_usize()], scratch);
            }
        }
        for member in &self.members {
            let mut decidable = member_values(record, &member.finder, &mut |v| {
                if let Some(&id) = member.ids.get(v) {
                    Self::mark_present(id, scratch);
                }
                for (p, id) in &member.prefixes {
                    if v.starts_with(p) {
                        Self::mark_present(*id, scratch);
                    }
                }
                for (p, id) in &member.folded_prefixes {
                    if folded_prefix_may_match(v, p) {
                        Self::mark_present(*id, scratch);
                    }
                }
                if !member.folded_ids.is_empty() {
                    member.folded(v, |lower| match lower {
                        Some(l) => {
                            if let Some(&id) = member.folded_ids.get(l) {
                                Self::mark_present(id, scratch);
                            }
                        }
                        None => {
                            for &id in member.folded_ids.values() {
                                Self::mark_present(id, scratch);
                            }
                        }
                    });
                }
            });
            if !decidable {
                // Some occurrence could not be read: assume every value is there.
                for id in member.all_ids() {
                    Self::mark_present(id, scratch);
                }
                decidable = true;
            }
            debug_assert!(decidable);
        }
        out.extend_from_slice(&self.always);
        for ((rule, clauses), &gate) in self.rules.iter().zip(&self.gates) {
            // The gate first: for most records it is closed and nothing else is searched.
            let gate_open = clauses[gate]
                .iter()
                .any(|&id| self.present(id, record, scratch));
            if !gate_open {
                continue;
            }
            let passes = clauses.iter().enumerate().all(|(i, clause)| {
                i == gate || clause.iter().any(|&id| self.present(id, record, scratch))
            });
            if passes {
                out.push(*rule);
            }
        }
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Range;

    fn bytes(s: &str) -> Needle {
        Needle::Bytes(s.as_bytes().to_vec())
    }
    fn ci(s: &str) -> Needle {
        Needle::CaseInsensitive(s.as_bytes().to_vec())
    }

    fn run(p: &Prefilter, record: &str) -> Vec<usize> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        p.candidates(record.as_bytes(), &mut scratch, &mut out);
        out
    }

    #[test]
    fn clauses_must_all_hold_and_any_disjunct_suffices() {
        let p = Prefilter::build(&[
            vec![
                vec![bytes("\"SendCommand\"")],
                vec![bytes("ssm.amazonaws.com"), bytes("ec2.amazonaws.com")],
            ],
            vec![vec![ci("modifyimageattribute")]],
        ]);
        assert_eq!(
            run(
                &p,
                r#"{"eventName":"SendCommand","eventSource":"ssm.amazonaws.com"}"#
            ),
            vec![0]
        );
        assert_eq!(
            run(
                &p,
                r#"{"eventName":"SendCommand","eventSource":"ec2.amazonaws.com"}"#
            ),
            vec![0]
        );
        assert!(
            run(
                &p,
                r#"{"eventName":"SendCommand","eventSource":"s3.amazonaws.com"}"#
            )
            .is_empty()
        );
        assert_eq!(run(&p, r#"{"eventName":"MODIFYImageAttribute"}"#), vec![1]);
        assert!(run(&p, r#"{"eventName":"ListBuckets"}"#).is_empty());
    }

    #[test]
    fn case_sensitive_needles_need_their_exact_case() {
        let p = Prefilter::build(&[
            vec![vec![bytes("Deny")]],
            vec![vec![bytes("deny")]],
            vec![vec![ci("DENY")]],
        ]);
        assert_eq!(run(&p, "Deny"), vec![0, 2]);
        assert_eq!(run(&p, "deny"), vec![1, 2]);
        assert_eq!(run(&p, "dEnY"), vec![2]);
        assert_eq!(run(&p, "Deny deny"), vec![0, 1, 2]);
    }

    #[test]
    fn unknown_needles_make_a_clause_unusable() {
        let p = Prefilter::build(&[
            vec![vec![bytes("a"), Needle::Unknown]],
            vec![vec![Needle::Unknown], vec![bytes("zzz")]],
            vec![],
        ]);
        assert_eq!(p.filtering(0), RuleFiltering::Always);
        assert_eq!(p.filtering(1), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(p.filtering(2), RuleFiltering::Always);
        assert_eq!(run(&p, "nothing here"), vec![0, 2]);
        assert_eq!(run(&p, "zzz"), vec![0, 1, 2]);
    }

    #[test]
    fn constant_needles() {
        let p = Prefilter::build(&[
            // event.dataset:aws.cloudtrail and event.action:X
            vec![vec![Needle::Constant(true)], vec![bytes("X")]],
            // event.module:okta
            vec![vec![Needle::Constant(false)]],
            // event.module:(okta or aws) and Y
            vec![
                vec![Needle::Constant(false), Needle::Constant(true)],
                vec![bytes("Y")],
            ],
            // a never-constant beside a needle: only the needle counts
            vec![vec![Needle::Constant(false), bytes("Z")]],
        ]);
        assert_eq!(p.filtering(0), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(p.filtering(1), RuleFiltering::Never);
        assert_eq!(p.filtering(2), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(p.filtering(3), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(run(&p, "X Y"), vec![0, 2]);
        assert_eq!(run(&p, "Z"), vec![3]);
        assert!(run(&p, "nothing").is_empty());
        // Escaped records go to every rule, even ones a constant rules out: safe, never wrong.
        assert_eq!(run(&p, "\\u0058"), vec![0, 1, 2, 3]);
    }

    #[test]
    fn escaped_records_reach_every_rule() {
        let p = Prefilter::build(&[vec![vec![bytes("SendCommand")]], vec![vec![bytes("x/y")]]]);
        assert_eq!(run(&p, r#"{"eventName":"\u0053endCommand"}"#), vec![0, 1]);
        assert_eq!(run(&p, r#"{"arn":"x\/y"}"#), vec![0, 1]);
        assert!(run(&p, r#"{"eventName":"SendCommandX"}"#).contains(&0));
    }

    fn member(key: &'static str, v: &str) -> Needle {
        Needle::Member {
            key,
            value: v.as_bytes().to_vec(),
        }
    }

    #[test]
    fn member_needles_want_the_whole_value() {
        let p = Prefilter::build(&[
            vec![vec![member("eventName", "DeleteFunction")]],
            vec![
                vec![member("eventName", "SendCommand")],
                vec![member("eventSource", "ssm.amazonaws.com")],
            ],
        ]);
        assert_eq!(
            p.gate_needles(),
            vec!["eventName=\"DeleteFunction\"", "eventName=\"SendCommand\""]
        );
        assert_eq!(run(&p, r#"{"eventName":"DeleteFunction"}"#), vec![0]);
        assert!(run(&p, r#"{"eventName":"DeleteFunctionConcurrency"}"#).is_empty());
        assert!(run(&p, r#"{"eventName":"X","note":"DeleteFunction"}"#).is_empty());
        // Blanks around the colon, as pretty-printed records have them.
        assert_eq!(run(&p, "{\"eventName\" :\n \"DeleteFunction\"}"), vec![0]);
        assert_eq!(
            run(
                &p,
                r#"{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand"}"#
            ),
            vec![1]
        );
        assert!(
            run(
                &p,
                r#"{"eventSource":"ec2.amazonaws.com","eventName":"SendCommand"}"#
            )
            .is_empty()
        );
        // A value that cannot be read as a plain string: assume it may be any.
        assert_eq!(run(&p, r#"{"eventName":["DeleteFunction"]}"#), vec![0]);
        assert_eq!(run(&p, r#"{"eventName":"Delete\"Function"}"#), vec![0]);
    }

    #[test]
    fn folded_member_needles_ignore_ascii_case() {
        let folded = |v: &str| Needle::MemberFolded {
            key: "eventName",
            value: v.as_bytes().to_vec(),
        };
        let p = Prefilter::build(&[vec![vec![folded("invokemodel"), folded("converse")]]]);
        assert_eq!(
            p.gate_needles(),
            vec![
                "eventName=\"invokemodel\" (any case)",
                "eventName=\"converse\" (any case)"
            ]
        );
        assert_eq!(run(&p, r#"{"eventName":"InvokeModel"}"#), vec![0]);
        assert_eq!(run(&p, r#"{"eventName":"CONVERSE"}"#), vec![0]);
        assert!(run(&p, r#"{"eventName":"InvokeModelWithResponseStream"}"#).is_empty());
        // Non-ASCII could fold onto ASCII (the Kelvin sign is a `k`): taken as a match.
        assert_eq!(run(&p, "{\"eventName\":\"Conver\u{17F}e\"}"), vec![0]);
        let mut hit = Vec::new();
        let buf =
            "{\"eventName\":\"Converse\"}\n{\"eventName\":\"Other\"}\n{\"eventName\":\"\u{212A}\"}";
        let spans = [0..24, 25..46, 47..buf.len()];
        assert!(p.mark_batch(buf.as_bytes(), &unnoted(&spans), &mut hit));
        assert_eq!(hit, vec![true, false, true]);
    }

    fn prefix(key: &'static str, v: &str) -> Needle {
        Needle::MemberPrefix {
            key,
            value: v.as_bytes().to_vec(),
        }
    }
    fn folded_prefix(key: &'static str, v: &str) -> Needle {
        Needle::MemberFoldedPrefix {
            key,
            value: v.as_bytes().to_vec(),
        }
    }

    #[test]
    fn member_prefix_needles_want_the_value_to_start_with_them() {
        let p = Prefilter::build(&[
            vec![vec![
                member("eventName", "DeleteFunction"),
                prefix("eventName", "DeleteFunction20"),
            ]],
            vec![vec![folded_prefix("eventName", "createeventsourcemapping")]],
        ]);
        assert_eq!(
            p.gate_needles(),
            vec![
                "eventName=\"DeleteFunction\"",
                "eventName=\"DeleteFunction20*\"",
                "eventName=\"createeventsourcemapping*\" (any case)"
            ]
        );
        assert!(p.batch_patterns().is_empty());
        assert_eq!(
            run(&p, r#"{"eventName":"DeleteFunction20150331"}"#),
            vec![0]
        );
        assert_eq!(run(&p, r#"{"eventName":"DeleteFunction20"}"#), vec![0]);
        assert_eq!(run(&p, r#"{"eventName":"DeleteFunction"}"#), vec![0]);
        // Near misses: another suffix, a shorter value, the prefix elsewhere.
        assert!(run(&p, r#"{"eventName":"DeleteFunctionX"}"#).is_empty());
        assert!(run(&p, r#"{"eventName":"DeleteFunction2"}"#).is_empty());
        assert!(run(&p, r#"{"eventName":"XDeleteFunction20"}"#).is_empty());
        assert!(run(&p, r#"{"eventName":"X","n":"DeleteFunction20"}"#).is_empty());
        assert!(run(&p, r#"{"eventName":"deletefunction20"}"#).is_empty());
        // Case folding.
        assert_eq!(
            run(&p, r#"{"eventName":"CreateEventSourceMapping20150331"}"#),
            vec![1]
        );
        assert_eq!(
            run(&p, r#"{"eventName":"CREATEEVENTSOURCEMAPPING"}"#),
            vec![1]
        );
        assert!(run(&p, r#"{"eventName":"CreateEventSource"}"#).is_empty());
        // Non-ASCII within the prefix could fold onto it; after it, it cannot.
        assert_eq!(
            run(&p, "{\"eventName\":\"Create\u{212A}ventSourceMapping\"}"),
            vec![1]
        );
        assert!(!run(&p, "{\"eventName\":\"DeleteFunction2\u{212A}\"}").contains(&0));
        // Values that cannot be read as plain strings: kept for every rule.
        assert_eq!(run(&p, r#"{"eventName":"Delete\"Function"}"#), vec![0, 1]);
        assert_eq!(run(&p, r#"{"eventName":["X"]}"#), vec![0, 1]);
        assert_eq!(
            run(&p, r#"{"eventName":"\u0044eleteFunction20"}"#),
            vec![0, 1]
        );
        // The batch scan marks the same records.
        let records = [
            r#"{"eventName":"DeleteFunction20150331"}"#,
            r#"{"eventName":"DeleteFunctionX"}"#,
            r#"{"eventName":"createEventSourceMapping2"}"#,
            r#"{"eventName":"Delete\"Function"}"#,
            r#"{"eventName":"Other"}"#,
        ];
        let (buf, spans) = batch_of(&records);
        let mut hit = Vec::new();
        assert!(p.mark_batch(&buf, &unnoted(&spans), &mut hit));
        assert_eq!(hit, vec![true, false, true, true, false]);
    }

    fn batch_of(records: &[&str]) -> (Vec<u8>, Vec<Range<usize>>) {
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for r in records {
            let start = buf.len();
            buf.extend_from_slice(r.as_bytes());
            spans.push(start..buf.len());
            buf.push(b'\n');
        }
        (buf, spans)
    }

    #[test]
    fn member_gates_beat_byte_gates_unless_their_values_are_common() {
        let p = Prefilter::build(&[
            // `includeManagementEvents` looks rarer, but a member gate needs no byte search.
            vec![
                vec![member("eventName", "PutEventSelectors")],
                vec![bytes("includeManagementEvents")],
            ],
            // A read-only call name is still worth it.
            vec![
                vec![member("eventName", "GetFederationToken")],
                vec![bytes("AdministratorAccess")],
            ],
            // A service endpoint is not.
            vec![
                vec![member("eventSource", "iam.amazonaws.com")],
                vec![bytes("requestParameters too large")],
            ],
            // A mixed clause is a byte clause.
            vec![
                vec![member("eventName", "CreateUser"), bytes("CreateUserX")],
                vec![prefix("eventName", "PublishLayerVersion")],
            ],
        ]);
        assert_eq!(
            p.gate_needles(),
            vec![
                "eventName=\"PutEventSelectors\"",
                "eventName=\"GetFederationToken\"",
                "requestParameters too large",
                "eventName=\"PublishLayerVersion*\""
            ]
        );
        assert_eq!(p.batch_patterns(), vec!["large"]);
    }

    /// A sample where `GetObject` is in 15% of the records (S3 data events on) and the
    /// credential-file literals in almost none.
    fn s3_heavy_sample() -> Vec<String> {
        (0..1000)
            .map(|i| match i % 100 {
                0..=14 => format!(
                    r#"{{"eventName":"GetObject","requestParameters":{{"key":"data/part-{i}.parquet"}}}}"#
                ),
                15 if i == 15 => {
                    r#"{"eventName":"GetObject","requestParameters":{"key":"home/.aws/credentials"}}"#
                        .to_string()
                }
                _ => format!(r#"{{"eventName":"DescribeInstances","n":{i}}}"#),
            })
            .collect()
    }

    fn credential_file_rule() -> Vec<Vec<Needle>> {
        vec![
            vec![member("eventName", "GetObject")],
            vec![bytes("/.aws/credentials"), bytes(".pem"), bytes("id_rsa")],
            vec![bytes("key\"")],
        ]
    }

    #[test]
    fn measured_gates_avoid_values_common_in_the_input() {
        let rules = [
            credential_file_rule(),
            // Its only clause stays its gate whatever the sample says.
            vec![vec![member("eventName", "DescribeInstances")]],
        ];
        let unmeasured = Prefilter::build(&rules);
        // Statically, `GetObject` scores as an uncommon call name: a member gate.
        assert_eq!(
            unmeasured.gate_needles(),
            vec!["eventName=\"GetObject\"", "eventName=\"DescribeInstances\""]
        );
        let sample = s3_heavy_sample();
        let records: Vec<&[u8]> = sample.iter().map(|r| r.as_bytes()).collect();
        let measured = unmeasured.measure(&records).expect("enough records");
        assert_eq!(measured.records, 1000);
        assert_eq!(measured.clause_hits[0], vec![151, 1, 151]);
        assert_eq!(measured.clause_hits[1], vec![849]);
        let p = Prefilter::build_measured(&rules, &records);
        // The credential-file literals held in 1 record of 1000: they gate.
        let mut gates = p.gate_needles();
        gates.sort();
        assert_eq!(
            gates,
            vec![
                ".pem",
                "/.aws/credentials",
                "eventName=\"DescribeInstances\"",
                "id_rsa"
            ]
        );
        assert_eq!(
            Prefilter::build_for(&rules, &measured).gate_needles(),
            p.gate_needles()
        );
        // Whatever the gates, every record has the same candidates.
        let extra = [
            r#"{"eventName":"GetObject","key":"a/id_rsa"}"#,
            r#"{"eventName":"GetObject","key":"a\/.aws\/credentials"}"#,
            r#"{"eventName":"PutObject","key":"a/.aws/credentials"}"#,
            r#"{"eventName":"GetObject","x":"x.pem"}"#,
        ];
        for record in sample.iter().map(String::as_str).chain(extra) {
            assert_eq!(run(&p, record), run(&unmeasured, record), "{record}");
        }
        // The escaped spelling reaches every rule.
        assert_eq!(run(&p, extra[1]), vec![0, 1]);
        let (buf, spans) = batch_of(&sample.iter().map(String::as_str).collect::<Vec<_>>());
        check_batch_marks(&p, &buf, &spans);
    }

    #[test]
    fn small_or_foreign_samples_keep_the_static_gates() {
        let rules = [credential_file_rule()];
        let unmeasured = Prefilter::build(&rules);
        let sample = s3_heavy_sample();
        let few: Vec<&[u8]> = sample
            .iter()
            .take(MIN_SAMPLE_RECORDS - 1)
            .map(|r| r.as_bytes())
            .collect();
        assert_eq!(unmeasured.measure(&few), None);
        assert_eq!(
            Prefilter::build_measured(&rules, &few).gate_needles(),
            unmeasured.gate_needles()
        );
        // A measurement of another rule set is not applied to this one.
        let other = Measured {
            records: 1000,
            clause_hits: vec![vec![900, 0]],
        };
        assert_eq!(
            Prefilter::build_for(&rules, &other).gate_needles(),
            unmeasured.gate_needles()
        );
    }

    #[test]
    fn rules_without_a_gate_see_every_record_but_do_not_open_the_others() {
        let p = Prefilter::build(&[
            vec![vec![member("eventName", "SendCommand")]],
            // No usable clause: evaluated on every record.
            vec![vec![Needle::Unknown]],
            vec![vec![bytes("launchPermission")]],
        ]);
        assert_eq!(p.ungated_rules(), &[1]);
        assert!(p.has_gates());
        let records = [
            r#"{"eventName":"SendCommand"}"#,
            r#"{"eventName":"DescribeInstances"}"#,
            r#"{"x":"launchPermission"}"#,
            r#"{"eventName":"GetObject"}"#,
        ];
        let (buf, spans) = batch_of(&records);
        let mut hit = Vec::new();
        // The batch scan still runs: only records that may open a gate are marked.
        assert!(p.mark_batch(&buf, &unnoted(&spans), &mut hit));
        assert_eq!(hit, vec![true, false, true, false]);
        for (record, marked) in records.iter().zip(&hit) {
            let found = run(&p, record);
            if !marked {
                assert_eq!(found, p.ungated_rules(), "{record}");
            }
        }
        assert_eq!(run(&p, records[0]), vec![0, 1]);
        assert_eq!(run(&p, records[2]), vec![1, 2]);
    }

    /// `mark_batch` may only leave out records `candidates` leaves out, with Teddy or memmem
    /// searching the batch patterns.
    #[test]
    fn batch_marks_cover_every_candidate_record() {
        let many = Prefilter::build(&[
            vec![
                vec![member("eventName", "SendCommand")],
                vec![bytes("ssm.amazonaws.com")],
            ],
            vec![
                vec![bytes("launchPermission")],
                vec![ci("modifyimageattribute")],
            ],
            vec![vec![ci("BedrockAPIKey-")]],
            vec![vec![member("eventName", "GetObject"), bytes("DeleteTrail")]],
            vec![vec![Needle::MemberFolded {
                key: "eventName",
                value: b"converse".to_vec(),
            }]],
            vec![vec![
                member("eventName", "DeleteFunction"),
                prefix("eventName", "DeleteFunction20"),
            ]],
            vec![vec![folded_prefix("eventName", "publishlayer")]],
            vec![vec![prefix("eventSource", "lambda.")], vec![bytes("Layer")]],
        ]);
        assert!(matches!(
            &many.any_gate,
            BatchScan::Gated(
                Some(BatchAutomaton::Teddy(_) | BatchAutomaton::General(_)),
                _
            )
        ));
        let few = Prefilter::build(&[
            vec![vec![member("eventName", "GetObject"), bytes("DeleteTrail")]],
            vec![vec![prefix("eventName", "DeleteFunction20")]],
            // A common prefix: the byte clause gates, the prefix is tested per record.
            vec![vec![bytes("Trail\"}")], vec![prefix("eventSource", "ssm.")]],
        ]);
        assert!(matches!(
            &few.any_gate,
            BatchScan::Gated(Some(BatchAutomaton::Finders(f)), _) if f.len() == 2
        ));
        // Few exact byte gate needles are offered to the framer; case-insensitive ones not.
        assert_eq!(few.probe_needles().len(), 2);
        assert!(many.probe_needles().is_empty());
        let pieces = [
            r#""eventName":"SendCommand""#,
            r#""eventName": "GetObject""#,
            r#""eventSource":"ssm.amazonaws.com""#,
            r#""x":"launchPermission""#,
            r#""eventName":"ModifyImageAttribute""#,
            r#""y":"bedrockapikey-1""#,
            r#""z":"DeleteTrail""#,
            r#""u":"A""#,
            r#""eventName":"SendCommandX""#,
            r#""eventName":"CoNvErSe""#,
            r#""k":"v""#,
            r#""eventName":"DeleteFunction20150331""#,
            r#""eventName":"DeleteFunctionX""#,
            r#""eventName":"PUBLISHLayerVersion""#,
            r#""eventName":"Publish""#,
            r#""eventSource":"lambda.amazonaws.com""#,
            r#""eventSource":"Lambda.amazonaws.com""#,
            r#""eventName":"De\"leteFunction20""#,
        ];
        let mut rng = 7u64;
        let mut next = |n: usize| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) as usize % n
        };
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for _ in 0..3000 {
            let start = buf.len();
            buf.push(b'{');
            for j in 0..1 + next(3) {
                if j > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(pieces[next(pieces.len())].as_bytes());
            }
            buf.push(b'}');
            spans.push(start..buf.len());
            // Text between records may hold a pattern: it marks nothing.
            buf.extend_from_slice(match next(4) {
                0 => b"\n",
                1 => b",\n  ",
                2 => b" DeleteTrail\n",
                _ => b"launchPermission ",
            });
        }
        for p in [&many, &few] {
            check_batch_marks(p, &buf, &spans);
        }
        // The memmem path marks what the automaton path marks, for either pattern list.
        for p in [&many, &few] {
            let BatchScan::Gated(_, patterns) = &p.any_gate else {
                panic!("gated")
            };
            let finders = BatchAutomaton::Finders(
                patterns
                    .iter()
                    .map(|p| memmem::Finder::new(p).into_owned())
                    .collect(),
            );
            let (mut by_automaton, mut by_finders) =
                (vec![false; spans.len()], vec![false; spans.len()]);
            let records = unnoted(&spans);
            BatchAutomaton::automaton(patterns).mark(&buf, &records, &mut by_automaton);
            finders.mark(&buf, &records, &mut by_finders);
            assert_eq!(by_automaton, by_finders);
            assert!(by_automaton.iter().any(|&h| h) && !by_automaton.iter().all(|&h| h));
        }
    }

    /// A framed record with the notes a framer may leave.
    #[derive(Clone, Debug)]
    struct Noted {
        range: Range<usize>,
        escaped: Option<bool>,
        key_hits: KeyHits,
        needle_hit: Option<bool>,
        key_value: Option<(u32, u32)>,
    }

    impl ProbedRecord for Noted {
        fn range(&self) -> Range<usize> {
            self.range.clone()
        }
        fn escaped(&self) -> Option<bool> {
            self.escaped
        }
        fn key_hits(&self) -> KeyHits {
            self.key_hits
        }
        fn needle_hit(&self) -> Option<bool> {
            self.needle_hit
        }
        fn key_value(&self) -> Option<(u32, u32)> {
            self.key_value
        }
    }

    /// Records at these ranges about which the framer noted nothing.
    fn unnoted(spans: &[Range<usize>]) -> Vec<Noted> {
        spans
            .iter()
            .map(|range| Noted {
                range: range.clone(),
                escaped: None,
                key_hits: KeyHits::NotLooked,
                needle_hit: None,
                key_value: None,
            })
            .collect()
    }

    fn check_batch_marks(p: &Prefilter, buf: &[u8], spans: &[Range<usize>]) {
        let plain = unnoted(spans);
        let mut hit = Vec::new();
        assert!(p.mark_batch(buf, &plain, &mut hit));
        // Escape flags from the framer give the same marks as the batch's own search.
        let mut flagged_records = plain.clone();
        for r in &mut flagged_records {
            r.escaped = Some(p.has_escape(&buf[r.range()]));
        }
        let mut flagged = Vec::new();
        assert!(p.mark_batch(buf, &flagged_records, &mut flagged));
        assert_eq!(flagged, hit);
        // So do the framer's notes of where the probed key is (some records not looked at).
        assert_eq!(p.probe_key(), Some("eventName"));
        // The framer reads the value after a key found once, when it is a plain string: a
        // stand-in here (the framer's own reading is tested in dragnet-input), left out for
        // some records as the framer does past 64 bytes.
        let plain_value = |record: &[u8], after: usize| {
            let rest = &record[after..];
            let colon = rest.iter().position(|&b| b != b' ')?;
            if rest[colon] != b':' {
                return None;
            }
            let quote = colon + 1 + rest[colon + 1..].iter().position(|&b| b != b' ')?;
            if rest[quote] != b'"' {
                return None;
            }
            let len = rest[quote + 1..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')?;
            (rest[quote + 1 + len] == b'"').then_some(((after + quote + 1) as u32, len as u32))
        };
        let mut keyed = flagged_records.clone();
        for (n, r) in keyed.iter_mut().enumerate() {
            let record = &buf[r.range()];
            let found: Vec<usize> = memmem::find_iter(record, b"\"eventName\"").collect();
            (r.key_hits, r.key_value) = match found[..] {
                _ if n % 7 == 0 => (KeyHits::NotLooked, None),
                [] => (KeyHits::Absent, None),
                [at] => (
                    KeyHits::Once(at as u32),
                    plain_value(record, at + 11).filter(|_| n % 3 != 0),
                ),
                _ => (KeyHits::Several, None),
            };
        }
        assert!(keyed.iter().any(|r| r.key_value.is_some()));
        let mut probed = Vec::new();
        assert!(p.mark_batch(buf, &keyed, &mut probed));
        assert_eq!(probed, hit);
        // The framer's notes of which records hold a byte gate needle (whole) mark fewer
        // records than the batch patterns (suffixes), but every candidate still.
        let mut needled = keyed;
        for r in &mut needled {
            let record = &buf[r.range()];
            r.needle_hit = Some(
                p.probe_needles()
                    .iter()
                    .any(|n| memmem::find(record, n).is_some()),
            );
        }
        let mut by_needles = Vec::new();
        assert!(p.mark_batch(buf, &needled, &mut by_needles));
        let (mut candidates, mut marked) = (0, 0);
        for ((span, &h), &n) in spans.iter().zip(&hit).zip(&by_needles) {
            let record = &buf[span.clone()];
            let found = run(p, std::str::from_utf8(record).unwrap());
            if !found.is_empty() {
                candidates += 1;
                assert!(
                    h && n,
                    "unmarked record has candidates {found:?}: {}",
                    String::from_utf8_lossy(record)
                );
            }
            assert!(
                h || !n,
                "needle probes mark only records the batch scan marks"
            );
            marked += usize::from(h);
        }
        assert!(
            candidates > 100 && marked < spans.len(),
            "{candidates} candidates, {marked} marked"
        );
    }

    /// Past [`LAZY_GATE_NEEDLES`], gate needles are found by automata: same answers.
    #[test]
    fn many_gate_needles_use_automata_with_the_same_answers() {
        let n = LAZY_GATE_NEEDLES + 4;
        let rules: Vec<Vec<Vec<Needle>>> = (0..n)
            .map(|i| {
                let needle = format!("Action{i:02}");
                if i % 3 == 0 {
                    vec![vec![ci(&needle.to_lowercase())], vec![bytes("common")]]
                } else {
                    vec![vec![bytes(&needle)], vec![bytes("common")]]
                }
            })
            .collect();
        let p = Prefilter::build(&rules);
        assert!(!p.gate_automata.is_empty());
        assert_eq!(run(&p, "Action01 Action03 common"), vec![1, 3]);
        assert_eq!(run(&p, "ACTION03 action06 common"), vec![3, 6]);
        assert!(run(&p, "Action01 Action03").is_empty());
        assert!(run(&p, "common").is_empty());
    }

    #[test]
    fn case_variants_cover_every_casing_of_the_needle() {
        let variants = case_variants_of_a_window(b"bedrockapikey-");
        assert!(variants.len() <= 1 << MAX_FOLDED_LETTERS);
        for text in ["BedrockAPIKey-", "bedrockapikey-", "BEDROCKAPIKEY-"] {
            assert!(
                variants
                    .iter()
                    .any(|v| text.as_bytes().windows(v.len()).any(|w| w == v.as_slice())),
                "{text}"
            );
        }
        // Not a window every record holds in some casing (`crea` of `creationDate`).
        let variants = case_variants_of_a_window(b"createfunctionurlconfig");
        assert_eq!(variants.len(), 16);
        for v in &variants {
            let lower = v.to_ascii_lowercase();
            assert!(
                memmem::find(b"creationdate", &lower).is_none()
                    && memmem::find(b"create", &lower).is_none(),
                "{}",
                String::from_utf8_lossy(v)
            );
        }
    }

    #[test]
    fn scratch_is_reset_between_records() {
        let p = Prefilter::build(&[vec![vec![bytes("alpha")]], vec![vec![bytes("beta")]]]);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        p.candidates(b"alpha", &mut scratch, &mut out);
        assert_eq!(out, vec![0]);
        p.candidates(b"beta", &mut scratch, &mut out);
        assert_eq!(out, vec![1]);
        p.candidates(b"gamma", &mut scratch, &mut out);
        assert!(out.is_empty());
    }
}
