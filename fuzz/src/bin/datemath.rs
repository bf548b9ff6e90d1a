//! AFL target `datemath`: see [`dragnet_fuzz::datemath`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::datemath(data));
}
