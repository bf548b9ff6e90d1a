//! dragnet-engine (crate doc to be written by its owner).
