//! The consumer protocol's assignment (Kafka's `ConsumerProtocolAssignment`, versions 0-3): what
//! a member of a group of protocol type `consumer` was given, as DescribeGroups returns it.

/// The partitions of each topic assigned, or `None` if `data` is not an assignment.
pub(super) fn decode(data: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    let mut r = Reader { data };
    if data.is_empty() {
        // A member that has not synced yet has an empty assignment.
        return Some(Vec::new());
    }
    let version = r.i16()?;
    if version < 0 {
        return None;
    }
    let topics = r.count()?;
    let mut assigned = Vec::new();
    for _ in 0..topics {
        let len = usize::try_from(r.i16()?).ok()?;
        let topic = String::from_utf8_lossy(r.take(len)?).into_owned();
        let count = r.count()?;
        let mut partitions = Vec::new();
        for _ in 0..count {
            partitions.push(r.i32()?);
        }
        assigned.push((topic, partitions));
    }
    // User data (and, from version 1, nothing the console shows) follows.
    Some(assigned)
}

/// Big-endian reads that fail past the end.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let taken = self.data.get(..n)?;
        self.data = &self.data[n..];
        Some(taken)
    }

    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array's length: non-negative and no more than the bytes left could hold, so a
    /// corrupt count cannot make the loops above run long.
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.i32()?).ok()?;
        (n <= self.data.len()).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn reads_topics_and_partitions() {
        let mut data = vec![0, 1, 0, 0, 0, 1, 0, 3, b'a', b'b', b'c', 0, 0, 0, 2];
        data.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        data.extend_from_slice(&(-1i32).to_be_bytes()); // null user data
        assert_eq!(decode(&data), Some(vec![("abc".to_owned(), vec![0, 5])]));
        assert_eq!(decode(&[]), Some(vec![]));
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(decode(&[0, 1, 0, 0, 0, 9]), None);
        assert_eq!(decode(&[0, 1, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(decode(&[0]), None);
        assert_eq!(decode(&[0xff, 0xff]), None);
    }
}
