//! Topic name rules, as Kafka's `Topic.validate` enforces them.

use alloc::format;
use alloc::string::String;

use crate::limits::TOPIC_NAME_LENGTH_MAX;

/// Kafka's share groups' state log, internal in Kafka 4.1 (KIP-932). The broker keeps nothing
/// in it, but clients see it as Kafka shows it.
pub(crate) const SHARE_GROUP_STATE_TOPIC: &str = "__share_group_state";

/// Whether `name` is one of Kafka's internal topics (Kafka's `Topic.isInternal`): Metadata marks
/// it, and clients neither produce to it nor trim it with DeleteRecords.
pub(crate) fn is_internal(name: &str) -> bool {
    is_broker_log(name) || name == SHARE_GROUP_STATE_TOPIC
}

/// Whether `name` is one of the broker's own logs, the offsets log and the transaction log, which
/// hold its state: never deleted on request, aged out, nor read for producers' batches.
pub(crate) fn is_broker_log(name: &str) -> bool {
    name == super::groups::OFFSETS_TOPIC || name == crate::txn::TRANSACTION_STATE_TOPIC
}

/// The KRaft metadata log's name: Kafka refuses to create a topic of it (Kafka's
/// `Topic.CLUSTER_METADATA_TOPIC_NAME`).
pub(crate) const CLUSTER_METADATA_TOPIC: &str = "__cluster_metadata";

/// Why a topic name is refused; the text is Kafka's, clients show it to users.
pub(crate) fn invalid_topic_reason(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some(String::from("Topic name is illegal, it can't be empty"));
    }
    if name == "." || name == ".." {
        return Some(String::from("Topic name cannot be \".\" or \"..\""));
    }
    if name.len() > TOPIC_NAME_LENGTH_MAX {
        return Some(format!(
            "Topic name is illegal, it can't be longer than {TOPIC_NAME_LENGTH_MAX} characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Some(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    None
}

/// A topic's name with '.' read as '_': Kafka refuses a topic whose name equals another's in
/// this form, as their metric names would clash.
pub(crate) fn metric_name(name: &str) -> String {
    name.replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_internal_topics_and_the_broker_logs() {
        for name in ["__consumer_offsets", "__transaction_state"] {
            assert!(is_internal(name) && is_broker_log(name), "{name}");
        }
        assert!(is_internal(SHARE_GROUP_STATE_TOPIC));
        assert!(!is_broker_log(SHARE_GROUP_STATE_TOPIC));
        assert!(!is_internal("_consumer_offsets") && !is_internal("__cluster_metadata"));
    }

    #[test]
    fn kafka_rules() {
        assert!(invalid_topic_reason("my-topic.v1_x").is_none());
        assert!(invalid_topic_reason("").is_some());
        assert!(invalid_topic_reason(".").is_some());
        assert!(invalid_topic_reason("..").is_some());
        assert!(invalid_topic_reason("a b").is_some());
        assert!(invalid_topic_reason("é").is_some());
        assert!(invalid_topic_reason(&"a".repeat(249)).is_none());
        assert!(invalid_topic_reason(&"a".repeat(250)).is_some());
        assert_eq!(metric_name("a.b"), metric_name("a_b"));
        assert_eq!(metric_name("a.b.c"), "a_b_c");
        assert_ne!(metric_name("ab"), metric_name("a_b"));
    }
}
