//! Handing freed heap memory back to the OS.
//!
//! glibc's allocator keeps freed memory unless it sits at the top of the heap: after a burst of
//! small allocations (a client's queued responses) is freed, one live allocation above them pins
//! them all, and the process stays at its peak. `malloc_trim` returns the whole free pages inside
//! the heap. musl's allocator returns freed groups by itself, so there is nothing to do there.

/// Return the heap's free pages to the OS. Costs a walk of the allocator's free lists: call it
/// after a large amount was freed, not per request.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: the declaration matches glibc's `int malloc_trim(size_t pad)`.
        #[allow(unsafe_code)]
        unsafe extern "C" {
            /// glibc: release free memory from the heap; `pad` bytes are kept at its top.
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim takes no pointers, only locks and walks the allocator's own
        // state, and is safe to call at any time from any thread. Its result (whether memory
        // was released) changes nothing for the caller.
        #[allow(unsafe_code)]
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasing_after_a_burst_keeps_the_heap_usable() {
        let burst: Vec<Vec<u8>> = (0..10_000).map(|i| vec![i as u8; 200]).collect();
        let keep = vec![7u8; 64];
        drop(burst);
        release_free_heap();
        assert_eq!(keep, [7u8; 64]);
        let again: Vec<Vec<u8>> = (0..100).map(|_| vec![1u8; 200]).collect();
        assert!(again.iter().all(|v| v.len() == 200));
    }
}
