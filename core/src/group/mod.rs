//! The consumer-group coordinator and committed offsets.
