//! End-to-end tests of EQL sequence rules in `dragnet hunt`: the real binary over hand-written
//! CloudTrail (`tests/fixtures/eql/`), with exact expected alerts.
//!
//! Fixture `all.jsonl` (one user per story, times on 2025-02-03):
//! - alice CreateAccessKey 10:00, AttachUserPolicy 10:05, bob the same at 10:01 / 10:03
//!   (interleaved users: two sequences);
//! - carol 10:00 / 10:10:01 (601 s: past `maxspan=10m`), dave 11:00 / 11:10 (exactly 10m:
//!   `maxspan` is inclusive); erin AttachUserPolicy before CreateAccessKey (wrong order);
//! - frank CreateUser 13:00, CreateLoginProfile 13:05 (a sequence); grace CreateUser,
//!   DeleteUser, CreateLoginProfile (cancelled by `until`); one unrelated ListUsers.
//!
//! `split/` holds the same events over three files, out of time order within each, with bob's
//! AttachUserPolicy delivered twice. The rules use `any where` because the AWS integration gives
//! CreateLoginProfile no `event.category` (only UpdateLoginProfile is `iam` in its pipeline).
//!
//! Alert shape: Kibana's `buildAlertGroupFromSequence` (security_solution
//! `server/lib/detection_engine/rule_types/eql/build_alert_group_from_sequence.ts`): a
//! building block per event and a shell whose `kibana.alert.uuid` is also every alert's
//! `kibana.alert.group.id`. The ids are worked out here from Kibana's definition (see
//! [`kibana_sequence_ids`]), never read back from a run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const KEY_THEN_POLICY: &str = "e9100000-0000-4000-8000-000000000001";
const USER_THEN_LOGIN: &str = "e9100000-0000-4000-8000-000000000002";
const INDEX: &str = "logs-aws.cloudtrail-default";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eql")
        .join(rel)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hunt_env(args: &[&str], inputs: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::cargo_bin("dragnet").unwrap();
    cmd.arg("hunt")
        .arg("-r")
        .arg(fixture("rules"))
        .args(args)
        .args(inputs.iter().map(|i| fixture(i)));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn hunt(args: &[&str], inputs: &[&str]) -> Run {
    hunt_env(args, inputs, &[])
}

fn ndjson(run: &Run) -> Vec<Value> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ids Kibana gives the alerts of one sequence of events (`_id`s, all in [`INDEX`]) found
/// by the rule whose `kibana.alert.rule.uuid` is `rule_uuid` (dragnet: the rule_id of a TOML
/// rule, which has no saved object). From elastic/kibana (read at commit `04cd4f35`),
/// `security_solution/server/lib/detection_engine/rule_types`:
/// - `factories/utils/generate_building_block_ids.ts` (`generateBuildingBlockIds`): one base
///   string, for every block in order its ancestors' `id` then `index` (a block built from a
///   source event has that event as its one ancestor) then the block's `kibana.alert.rule.uuid`;
///   block `i` is `sha256(base + String(i))` in hex.
/// - `eql/build_alert_group_from_sequence.ts` (`buildAlertRoot`) with
///   `factories/utils/build_alert.ts` (`generateAlertId`, `buildAncestors`): the shell's
///   ancestors are, per block, the block's own ancestors followed by the block itself (its
///   `_id`, and `_index` `''`), and its uuid (= `kibana.alert.group.id` of all of them) is
///   `sha256(concat of ancestors' id + index, then the rule uuid)`.
///
/// Returns the blocks' uuids and the shell's.
fn kibana_sequence_ids(rule_uuid: &str, events: &[&str]) -> (Vec<String>, String) {
    let base: String = events
        .iter()
        .map(|id| format!("{id}{INDEX}{rule_uuid}"))
        .collect();
    let blocks: Vec<String> = (0..events.len())
        .map(|i| sha256_hex(&format!("{base}{i}")))
        .collect();
    let shell_ancestors: String = events
        .iter()
        .zip(&blocks)
        .map(|(id, block)| format!("{id}{INDEX}{block}"))
        .collect();
    (blocks, sha256_hex(&format!("{shell_ancestors}{rule_uuid}")))
}

// The same, computed with coreutils from the definition above, e.g. bob's first block:
// printf %s 'seq-b1<INDEX><RULE>seq-b2<INDEX><RULE>0' | sha256sum, and his group:
// printf %s 'seq-b1<INDEX><BB0>seq-b2<INDEX><BB1><RULE>' | sha256sum.
const BOB_BB0: &str = "9760c0584af493064e66459847b708b01d12960c958f1e186927227b07b7bb1e";
const BOB_BB1: &str = "bd873a614444085948427385a4b8b195a305403a47cbc9fec27e16e7e161f9e3";
const BOB_GROUP: &str = "67e80d133724c931291d28537c8b6b5b507d36756514ab4c4ed2d6166a67095f";
const FRANK_BB0: &str = "9755b7dd06e714a2f3077b02ba02b5b490aa9ba80c258f64349d767a2de47426";
const FRANK_BB1: &str = "6f5c683eefd9dab0f50ab343f7ae5dabdccb680d65700a088437d7731d7b39c6";
const FRANK_GROUP: &str = "7a5cf39a02504874e721f6261bcc0e705a583d3b823bfe7a6e566e12d89e3733";
const ALICE_GROUP: &str = "fa2ae5f502a1ace0b0bec9f97a9ed830d7a6f21fa0e8e256a5a7c5f5bee67271";
const DAVE_GROUP: &str = "28da50232099c23e562608b047d246d96debc96ae822a7af4b905e9cdea5d49f";

/// The four sequences of `all.jsonl`: (rule, user, first event, second event).
const SEQUENCES: [(&str, &str, &str, &str); 4] = [
    (KEY_THEN_POLICY, "alice", "seq-a1", "seq-a2"),
    (KEY_THEN_POLICY, "bob", "seq-b1", "seq-b2"),
    (KEY_THEN_POLICY, "dave", "seq-d1", "seq-d2"),
    (USER_THEN_LOGIN, "frank", "seq-f1", "seq-f2"),
];

#[test]
fn the_id_derivation_gives_the_values_computed_with_sha256sum() {
    let (bob, bob_group) = kibana_sequence_ids(KEY_THEN_POLICY, &["seq-b1", "seq-b2"]);
    assert_eq!(
        (bob, bob_group.as_str()),
        (vec![BOB_BB0.to_owned(), BOB_BB1.to_owned()], BOB_GROUP)
    );
    let (frank, frank_group) = kibana_sequence_ids(USER_THEN_LOGIN, &["seq-f1", "seq-f2"]);
    assert_eq!(
        (frank, frank_group.as_str()),
        (
            vec![FRANK_BB0.to_owned(), FRANK_BB1.to_owned()],
            FRANK_GROUP
        )
    );
    assert_eq!(
        kibana_sequence_ids(KEY_THEN_POLICY, &["seq-a1", "seq-a2"]).1,
        ALICE_GROUP
    );
    assert_eq!(
        kibana_sequence_ids(KEY_THEN_POLICY, &["seq-d1", "seq-d2"]).1,
        DAVE_GROUP
    );
}

/// One alert as `(rule_id, kibana.alert.uuid, kibana.alert.group.id, position or "shell",
/// ancestors' ids)`.
type AlertKey = (String, String, String, String, Vec<String>);

fn alert_keys(alerts: &[Value]) -> BTreeSet<AlertKey> {
    alerts
        .iter()
        .map(|a| {
            let position = match a["kibana.alert.group.index"].as_u64() {
                Some(i) => i.to_string(),
                None => "shell".to_string(),
            };
            let ancestors = a["kibana.alert.ancestors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_string())
                .collect();
            let s = |field: &str| a[field].as_str().unwrap().to_string();
            (
                s("kibana.alert.rule.rule_id"),
                s("kibana.alert.uuid"),
                s("kibana.alert.group.id"),
                position,
                ancestors,
            )
        })
        .collect()
}

/// The three alerts Kibana builds for one sequence of two events.
fn expected_alerts(rule: &str, first: &str, second: &str) -> BTreeSet<AlertKey> {
    let (blocks, shell) = kibana_sequence_ids(rule, &[first, second]);
    let s = |x: &str| x.to_string();
    BTreeSet::from([
        (s(rule), s(&blocks[0]), s(&shell), s("0"), vec![s(first)]),
        (s(rule), s(&blocks[1]), s(&shell), s("1"), vec![s(second)]),
        // The shell's ancestors: each event, then its building block.
        (
            s(rule),
            s(&shell),
            s(&shell),
            s("shell"),
            vec![s(first), blocks[0].clone(), s(second), blocks[1].clone()],
        ),
    ])
}

fn by_uuid<'a>(alerts: &'a [Value], uuid: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["kibana.alert.uuid"] == uuid)
        .unwrap_or_else(|| panic!("no alert {uuid}"))
}

#[test]
fn sequences_alert_as_kibana_alert_groups() {
    let alerts = ndjson(&hunt(&["--format", "ndjson"], &["all.jsonl"]));
    assert_eq!(
        alerts.len(),
        12,
        "4 sequences x (2 building blocks + shell)"
    );
    let expected: BTreeSet<AlertKey> = SEQUENCES
        .iter()
        .flat_map(|&(rule, _, a, b)| expected_alerts(rule, a, b))
        .collect();
    assert_eq!(alert_keys(&alerts), expected);
    // Every alert names its user (the sequence's `by` field) and its rule's uuid.
    for &(rule, user, a, b) in &SEQUENCES {
        let (blocks, shell) = kibana_sequence_ids(rule, &[a, b]);
        for uuid in blocks.iter().chain([&shell]) {
            let alert = by_uuid(&alerts, uuid);
            assert_eq!(alert["user"]["name"], user, "{uuid}");
            assert_eq!(alert["kibana.alert.rule.uuid"], rule, "{uuid}");
        }
    }

    // Building blocks: the event's own fields, Kibana's building-block fields.
    let bb = by_uuid(&alerts, BOB_BB1);
    assert_eq!(bb["kibana.alert.building_block_type"], "default");
    assert_eq!(bb["kibana.alert.group.id"], BOB_GROUP);
    assert_eq!(bb["kibana.alert.group.index"], 1);
    assert_eq!(bb["kibana.alert.depth"], 1);
    assert_eq!(
        bb["kibana.alert.ancestors"],
        json!([{"id": "seq-b2", "type": "event", "index": INDEX, "depth": 0}])
    );
    assert_eq!(bb["event"]["action"], "AttachUserPolicy");
    assert_eq!(bb["kibana.alert.original_event.action"], "AttachUserPolicy");
    assert_eq!(bb["user"]["name"], "bob");
    assert_eq!(bb["@timestamp"], "2025-02-03T10:03:00Z");
    assert_eq!(bb["kibana.alert.rule.type"], "eql");
    assert_eq!(
        by_uuid(&alerts, BOB_BB0)["kibana.alert.group.index"],
        0,
        "position in the sequence"
    );

    // The shell: the events' common fields only, depth 2, no building-block type. Its
    // ancestors as `buildAncestors` gives them: each block's ancestors, then the block itself
    // (type signal, `_index` '' when the shell is built, depth 1, the rule's uuid).
    let shell = by_uuid(&alerts, BOB_GROUP);
    assert_eq!(shell["kibana.alert.group.id"], BOB_GROUP);
    assert!(shell.get("kibana.alert.building_block_type").is_none());
    assert!(shell.get("kibana.alert.group.index").is_none());
    assert_eq!(shell["kibana.alert.depth"], 2);
    assert_eq!(shell["user"]["name"], "bob");
    assert!(
        shell["event"].get("action").is_none(),
        "the actions differ: not in the intersection"
    );
    assert_eq!(shell["event"]["kind"], "signal");
    assert_eq!(
        shell["kibana.alert.ancestors"],
        json!([
            {"id": "seq-b1", "type": "event", "index": INDEX, "depth": 0},
            {"id": BOB_BB0, "type": "signal", "index": "", "depth": 1, "rule": KEY_THEN_POLICY},
            {"id": "seq-b2", "type": "event", "index": INDEX, "depth": 0},
            {"id": BOB_BB1, "type": "signal", "index": "", "depth": 1, "rule": KEY_THEN_POLICY},
        ])
    );
    assert_eq!(shell["kibana.alert.original_time"], "2025-02-03T10:01:00Z");
    assert_eq!(shell["@timestamp"], "2025-02-03T10:03:00Z");
}

#[test]
fn files_in_any_order_give_identical_alerts() {
    let reference = hunt(&["--format", "ndjson"], &["all.jsonl"]);
    assert_eq!(ndjson(&reference).len(), 12);
    for order in [
        [
            "split/part-1.json",
            "split/part-2.jsonl",
            "split/part-3.jsonl",
        ],
        [
            "split/part-3.jsonl",
            "split/part-1.json",
            "split/part-2.jsonl",
        ],
        [
            "split/part-2.jsonl",
            "split/part-3.jsonl",
            "split/part-1.json",
        ],
    ] {
        let run = hunt(&["--format", "ndjson"], &order);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout, reference.stdout,
            "{order:?}: same alerts, byte for byte"
        );
    }
}

#[test]
fn thread_count_does_not_change_alerts() {
    let inputs = [
        "split/part-3.jsonl",
        "split/part-2.jsonl",
        "split/part-1.json",
    ];
    let one = hunt_env(
        &["--format", "ndjson"],
        &inputs,
        &[("RAYON_NUM_THREADS", "1")],
    );
    let two = hunt_env(
        &["--format", "ndjson"],
        &inputs,
        &[("RAYON_NUM_THREADS", "2")],
    );
    assert_eq!(ndjson(&one).len(), 12);
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn table_shows_shells_and_hides_building_blocks() {
    let run = hunt(&["--format", "table"], &["all.jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("8 building-block alert(s) not shown in the table"),
        "{}",
        run.stderr
    );
    // The alert table comes first; a blank line separates it from the per-rule summary.
    let rows = run
        .stdout
        .lines()
        .take_while(|l| !l.trim().is_empty())
        // Tables show times as `2025-02-03 10:00:00` (UTC, in the column title).
        .filter(|l| l.starts_with("2025-02-03 "))
        .count();
    assert_eq!(rows, 4, "one row per sequence:\n{}", run.stdout);
}

#[test]
fn time_range_limits_the_events_sequences_see() {
    // From 10:04 alice's and bob's first events are outside: only dave's and frank's remain.
    let alerts = ndjson(&hunt(
        &["--format", "ndjson", "--from", "2025-02-03T10:04:00Z"],
        &["all.jsonl"],
    ));
    let ids: BTreeSet<&str> = alerts
        .iter()
        .map(|a| a["kibana.alert.group.id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([DAVE_GROUP, FRANK_GROUP]));
}

#[test]
fn candidate_cap_is_named_with_its_flag() {
    // The cap bounds candidates kept for sorting, which only input out of time order needs:
    // the fixture's events in reverse order.
    let dir = tempfile::tempdir().unwrap();
    let reversed = dir.path().join("reversed.jsonl");
    let text = std::fs::read_to_string(fixture("all.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().rev().collect();
    std::fs::write(&reversed, lines.join("\n") + "\n").unwrap();
    let reversed = reversed.to_str().unwrap();
    let run = hunt(
        &["--format", "ndjson", "--max-sequence-candidates", "3"],
        &[reversed],
    );
    assert_eq!(run.code, 0, "a limit is a warning: {}", run.stderr);
    assert!(
        run.stderr
            .contains("limit max-sequence-candidates (3) reached")
            && run.stderr.contains("--max-sequence-candidates N"),
        "{}",
        run.stderr
    );
    let full = hunt(&["--format", "ndjson"], &[reversed]);
    assert!(!full.stderr.contains("max-sequence-candidates"));
    let ordered = hunt(
        &["--format", "ndjson", "--max-sequence-candidates", "3"],
        &["all.jsonl"],
    );
    assert!(
        !ordered.stderr.contains("max-sequence-candidates"),
        "input in time order streams without keeping candidates: {}",
        ordered.stderr
    );
    assert_eq!(ndjson(&ordered), ndjson(&full));
}

#[test]
fn max_signals_counts_sequences_and_keeps_groups_whole() {
    // Kibana's EQL search returns at most max_signals sequences: the earliest completed
    // sequence of each rule (bob's at 10:03, frank's) stays with both of its building blocks.
    let run = hunt(
        &["--format", "ndjson", "--max-signals", "1"],
        &["all.jsonl"],
    );
    let alerts = ndjson(&run);
    let expected: BTreeSet<AlertKey> = expected_alerts(KEY_THEN_POLICY, "seq-b1", "seq-b2")
        .into_iter()
        .chain(expected_alerts(USER_THEN_LOGIN, "seq-f1", "seq-f2"))
        .collect();
    assert_eq!(alerts.len(), 6);
    assert_eq!(alert_keys(&alerts), expected);
}
