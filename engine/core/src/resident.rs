//! Memory the hot path will grow into, made resident before the session starts.
//!
//! A `Vec::with_capacity` reserve is only address space: the kernel maps each 4 KiB page on its
//! first write, so the first use of every page costs a page fault on whichever thread gets
//! there first. On a lane thread that was a stall of tens of µs to milliseconds on the
//! development VM (`BENCHMARKS.md`, "Stalls inside the lane"). [`resident_vec`] writes the
//! reserve once, at start-up, and hands back an empty `Vec` that keeps it.

/// An empty `Vec` with room for `n` elements whose memory has already been written (with
/// `fill`), so that pushing up to `n` elements neither reallocates nor page-faults.
pub fn resident_vec<T: Clone>(n: usize, fill: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, fill);
    // The writes must happen: keep the optimizer from seeing them as dead before `clear`.
    core::hint::black_box(&v[..]);
    v.clear();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_with_the_reserve_kept() {
        let mut v = resident_vec(1_000, 7u64);
        assert!(v.is_empty());
        assert!(v.capacity() >= 1_000);
        let start = v.as_ptr();
        v.extend(0..1_000);
        assert_eq!(v.as_ptr(), start);
        assert_eq!(v.iter().sum::<u64>(), 999 * 1_000 / 2);
    }
}
