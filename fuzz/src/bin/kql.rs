//! AFL target `kql`: see [`dragnet_fuzz::kql`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::kql(data));
}
