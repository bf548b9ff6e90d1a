//! Alert groups: the ids and shared source of the alerts an EQL sequence or sample gives, as
//! Kibana derives them (`build_alert_group_from_sequence.ts`).

use serde_json::{Map, Value};

use crate::document::sha256_hex;

/// `event.id` of an ECS document (nested or dotted), else a digest of the document.
pub fn document_id(doc: &Value) -> String {
    doc.pointer("/event/id")
        .or_else(|| doc.get("event.id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| sha256_hex(doc.to_string().as_bytes()))
}

/// Kibana's `objectPairIntersection`: common keys with equal values; objects recursively;
/// arrays keep their common elements; keys whose intersection is empty are dropped.
pub fn intersection(a: &Value, b: &Value) -> Option<Value> {
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return None;
    };
    let mut out = Map::new();
    for (key, av) in a {
        let Some(bv) = b.get(key) else { continue };
        let v = match (av, bv) {
            (Value::Object(_), Value::Object(_)) => intersection(av, bv),
            _ if av == bv => Some(av.clone()),
            (Value::Array(x), Value::Array(y)) => Some(Value::Array(
                x.iter().filter(|v| y.contains(v)).cloned().collect(),
            )),
            (Value::Array(x), y) => Some(Value::Array(
                x.iter().filter(|v| *v == y).cloned().collect(),
            )),
            (x, Value::Array(y)) => Some(Value::Array(
                y.iter().filter(|v| *v == x).cloned().collect(),
            )),
            _ => None,
        };
        if let Some(v) = v {
            out.insert(key.clone(), v);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The ids of a sequence's alerts, as Kibana derives them. `events`: `(_id, _index)` of each
/// event in order. Building block `i`: `generateBuildingBlockIds` — SHA-256 of the
/// concatenation, over the blocks, of their ancestors' `id + index` and the rule uuid, then
/// `i` in decimal. Shell: `generateAlertId` — SHA-256 of its ancestors' `id + index` (each
/// event, then its building block, whose `_index` is `''` when the shell is built) and the
/// rule uuid.
pub fn group_ids(events: &[(&str, &str)], rule_uuid: &str) -> (Vec<String>, String) {
    let mut base = String::new();
    for (id, index) in events {
        base.push_str(id);
        base.push_str(index);
        base.push_str(rule_uuid);
    }
    let blocks: Vec<String> = (0..events.len())
        .map(|i| sha256_hex(format!("{base}{i}").as_bytes()))
        .collect();
    let mut shell = String::new();
    for ((id, index), block) in events.iter().zip(&blocks) {
        shell.push_str(id);
        shell.push_str(index);
        shell.push_str(block);
    }
    shell.push_str(rule_uuid);
    let shell = sha256_hex(shell.as_bytes());
    (blocks, shell)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intersection_follows_kibana_object_pair_intersection() {
        let a = json!({"user": {"name": "alice", "id": 1}, "event": {"action": "A", "category": ["iam", "x"]}, "only_a": 1});
        let b = json!({"user": {"name": "alice", "id": 2}, "event": {"action": "B", "category": "iam"}});
        let got = intersection(&a, &b).unwrap();
        assert_eq!(
            got,
            json!({"user": {"name": "alice"}, "event": {"category": ["iam"]}})
        );
        assert_eq!(intersection(&json!({"a": 1}), &json!({"a": 2})), None);
    }

    #[test]
    fn group_ids_follow_kibana_generate_building_block_ids_and_generate_alert_id() {
        // printf %s 'e1ir1e2ir10' | sha256sum (block 0), ...1 (block 1); the shell hashes
        // 'e1i' + block0 + 'e2i' + block1 + 'r1'.
        let (blocks, shell) = group_ids(&[("e1", "i"), ("e2", "i")], "r1");
        let b0 = sha256_hex(b"e1ir1e2ir10");
        let b1 = sha256_hex(b"e1ir1e2ir11");
        assert_eq!(blocks, vec![b0.clone(), b1.clone()]);
        assert_eq!(shell, sha256_hex(format!("e1i{b0}e2i{b1}r1").as_bytes()));
        let (other, _) = group_ids(&[("e1", "i"), ("e3", "i")], "r1");
        assert_ne!(
            other[0], blocks[0],
            "a block's id depends on the whole sequence"
        );
    }
}
