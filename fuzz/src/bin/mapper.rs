//! AFL target `mapper`: see [`dragnet_fuzz::mapper`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::mapper(data));
}
