//! Segments and the partition log over caller-provided buffers.
