//! AFL target `eql`: see [`dragnet_fuzz::eql`].

fn main() {
    afl::fuzz!(|data: &[u8]| dragnet_fuzz::eql(data));
}
