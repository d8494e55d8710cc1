//! Topic name rules, as Kafka's `Topic.validate` enforces them.

use alloc::format;
use alloc::string::String;

use crate::limits::TOPIC_NAME_LENGTH_MAX;

/// Whether `name` is one of the broker's own logs (Kafka's internal topics: the offsets log and
/// the transaction log), which clients neither write, trim, delete nor age out.
pub(crate) fn is_internal(name: &str) -> bool {
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
