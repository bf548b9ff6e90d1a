//! AFL target `esql`: see [`dragnet_fuzz::esql`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::esql(data));
}
