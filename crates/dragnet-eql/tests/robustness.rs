//! Bad input never crashes: mutated queries (deletions, insertions of EQL punctuation and
//! keywords, truncations) either parse — then print back to a fixpoint, compile or fail with
//! an error, and evaluate — or fail with a positioned error. Deterministic (fixed seed).

use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
use dragnet_schema::Schema;
use serde_json::json;

const SEEDS: &[&str] = &[
    r#"process where process.name == "cmd.exe" and not process.args : ("-enc*", "/c") or length(process.title) > 3"#,
    r#"sequence by user.name with maxspan=10m [any where event.action == "CreateAccessKey"] by source.ip ![any where event.action == "X"] [any where event.action like~ "attach*"] with runs=2 until [any where true] | head 5"#,
    r#"sample by host.id [file where startsWith~(file.path, """C:\Windows\""")] [network where cidrMatch(source.ip, "10.0.0.0/8")]"#,
    r#"any where add(process.pid, -2) * 3 % 4 in (1, 2.5, null) and `odd-field`.x regex~ "[a-z]+\\d{2,3}" and ?opt.field != null"#,
    r#"any where between(file.path, "\\", "\\", true) : "win*" and substring(concat(a, "\u{41}"), -3, -1) == "x\"y""#,
];

const INSERTS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "![",
    ",",
    "\"",
    "\"\"\"",
    "`",
    "?",
    "~",
    "==",
    "!=",
    ":",
    "<=",
    "|",
    "*",
    "-",
    " and ",
    " or ",
    " not ",
    " in ",
    " like ",
    " regex~ ",
    " by ",
    " with ",
    " maxspan=",
    " until ",
    " where ",
    "1e",
    ".5",
    "\\",
    "\n",
    "é",
    "/*",
    "*/",
    "//",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn char_floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut out = s.to_owned();
    for _ in 0..1 + rng.below(4) {
        let at = char_floor(&out, rng.below(out.len() + 1));
        match rng.below(3) {
            0 => {
                let end = char_floor(&out, (at + 1 + rng.below(6)).min(out.len()));
                out.replace_range(at..end.max(at), "");
            }
            1 => out.insert_str(at, INSERTS[rng.below(INSERTS.len())]),
            _ => out.truncate(at),
        }
    }
    out
}

#[test]
fn mutated_queries_never_panic() {
    let mut rng = Rng(0x05ee_de91);
    let doc = json!({"process": {"name": "cmd.exe", "pid": [1, 2], "args": ["-enc", "x"]}, "user": {"name": "u"}, "a": "b"});
    let (mut parsed, mut compiled, mut total) = (0, 0, 0);
    for seed in SEEDS {
        for _ in 0..600 {
            let q = mutate(&mut rng, seed);
            total += 1;
            let Ok(query) = dragnet_eql::parse(&q) else {
                continue;
            };
            parsed += 1;
            let printed = query.to_string();
            let again = dragnet_eql::parse(&printed).unwrap_or_else(|e| {
                panic!("canonical form of {q:?} does not parse: {e}\n{printed}")
            });
            assert_eq!(again.to_string(), printed, "not a fixpoint: {q:?}");
            let mut table = FieldTable::new();
            if let Ok(c) = dragnet_eql::compile(&query, Schema::builtin(), &mut table) {
                compiled += 1;
                let paths = JsonPaths::bind(&table);
                let ev = JsonEvent::new(&doc, &paths);
                let _ = c.matches(&ev);
                let _ = c.explain(&ev).to_string();
                let _ = c.required_literals();
            }
        }
    }
    println!("{total} mutated queries: {parsed} parsed, {compiled} compiled");
    assert!(
        parsed > 100 && parsed < total,
        "mutations should both keep and break queries"
    );
}
