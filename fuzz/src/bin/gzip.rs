//! AFL target `gzip`: see [`dragnet_fuzz::gzip`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::gzip(data));
}
