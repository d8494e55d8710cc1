#!/usr/bin/env bash
# Proves blazemq-core needs no std where the x86_64-unknown-none target cannot be installed: links
# it into a #![no_std] staticlib with its own #[panic_handler] and allocator. If anything in
# core's dependency graph pulled in std, std's panic handler would clash with this one
# (duplicate lang item `panic_impl`) and the build would fail.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
proof="${CARGO_TARGET_DIR:-$root/target}/no-std-proof"
mkdir -p "$proof/src"

cat > "$proof/Cargo.toml" <<TOML
[package]
name = "blazemq-no-std-proof"
version = "0.0.0"
edition = "2024"
publish = false

[lib]
crate-type = ["staticlib"]
path = "src/lib.rs"

[dependencies]
blazemq-core = { path = "$root/core", default-features = false }

[profile.dev]
panic = "abort"

[profile.release]
panic = "abort"

# Not a member of the BlazeMQ workspace.
[workspace]
TOML

cat > "$proof/src/lib.rs" <<'RUST'
#![no_std]
// The proof needs a global allocator, which is an unsafe trait; it never runs.
#![allow(unsafe_code)]

extern crate alloc;

// Keep core's code in the link.
pub use blazemq_core as core_under_test;

struct NoAlloc;

unsafe impl alloc::alloc::GlobalAlloc for NoAlloc {
    unsafe fn alloc(&self, _layout: core::alloc::Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: core::alloc::Layout) {}
}

#[global_allocator]
static ALLOCATOR: NoAlloc = NoAlloc;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
RUST

cp "$root/Cargo.lock" "$proof/Cargo.lock"
cargo build --manifest-path "$proof/Cargo.toml" --target-dir "${CARGO_TARGET_DIR:-$root/target}"
echo "blazemq-core links into a no_std staticlib"
