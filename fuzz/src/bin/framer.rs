//! AFL target `framer`: see [`dragnet_fuzz::framer`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::framer(data));
}
