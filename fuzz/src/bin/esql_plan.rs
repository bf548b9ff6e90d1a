//! AFL target `esql_plan`: see [`dragnet_fuzz::esql_plan`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::esql_plan(data));
}
