//! The only crate that touches the OS.
