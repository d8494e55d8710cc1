//! Value generators for the generated `quickcheck::Arbitrary` impls.
//!
//! Collections stay short (at most 3 elements) because messages nest up to four levels deep and
//! quickcheck's own `Vec` generator would make every case megabytes long. Floats are never NaN,
//! so `PartialEq` round trips hold.

use alloc::string::String;
use alloc::vec::Vec;

use quickcheck::{Arbitrary, Gen};

use super::primitives::{Records, Uuid};

/// Elements per generated collection, at most.
const LEN_MAX: usize = 3;

/// A short vector of values from `f`.
pub fn vec<T>(g: &mut Gen, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
    let len = usize::arbitrary(g) % (LEN_MAX + 1);
    (0..len).map(|_| f(g)).collect()
}

/// `None` one time in four, else a value from `f`.
pub fn option<T>(g: &mut Gen, f: impl FnOnce(&mut Gen) -> T) -> Option<T> {
    if u8::arbitrary(g) % 4 == 0 {
        None
    } else {
        Some(f(g))
    }
}

/// A short string, any Unicode.
pub fn string(g: &mut Gen) -> String {
    let len = usize::arbitrary(g) % 8;
    (0..len).map(|_| char::arbitrary(g)).collect()
}

/// A few arbitrary bytes.
pub fn bytes(g: &mut Gen) -> Vec<u8> {
    let len = usize::arbitrary(g) % 8;
    (0..len).map(|_| u8::arbitrary(g)).collect()
}

/// A finite float.
pub fn float(g: &mut Gen) -> f64 {
    f64::from(i32::arbitrary(g)) / 8.0
}

/// A random UUID.
pub fn uuid(g: &mut Gen) -> Uuid {
    let mut id = [0u8; 16];
    for b in &mut id {
        *b = u8::arbitrary(g);
    }
    Uuid(id)
}

/// Record bytes (not a valid batch: the codec treats records as opaque).
pub fn records(g: &mut Gen) -> Records {
    Records::Bytes(bytes(g))
}
