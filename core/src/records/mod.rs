//! Record batches (v2) and the legacy message sets (v0, v1).
