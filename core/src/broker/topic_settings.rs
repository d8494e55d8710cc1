//! A topic's configs as the broker acts on them: parsed once into [`TopicSettings`] when the
//! topic is created or found at startup, or when its configs or the broker's defaults change,
//! never on an append, a retention pass or a cleaning. Every value reaching [`TopicSettings`]
//! was checked by [`topic_config::validate`] first (CreateTopics, AlterConfigs, a dynamic broker
//! setting, a metadata file read at startup), so parsing here cannot meet a bad value.

use alloc::string::String;

use super::config::BrokerConfig;
use super::dynamic_configs::DynamicConfigs;
use super::topic_config;

/// The topic configs that change what the broker does, typed. The others (compression levels,
/// replication throttles, ...) are only stored and described.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TopicSettings {
    /// `cleanup.policy` includes `delete`: segments age and size out, DeleteRecords is allowed.
    pub delete: bool,
    /// `cleanup.policy` includes `compact`: the cleaner keeps each key's newest record.
    pub compact: bool,
    /// `retention.ms`; below 0 keeps records forever.
    pub retention_ms: i64,
    /// `retention.bytes`; below 0 keeps every byte.
    pub retention_bytes: i64,
    /// `segment.bytes`: the size of new segments.
    pub segment_bytes: usize,
    /// `segment.ms`: an append this much newer than a segment's first record rolls the log.
    pub segment_ms: i64,
    /// `max.message.bytes`: the largest batch a Produce may append.
    pub max_message_bytes: usize,
    /// `message.timestamp.type` is LogAppendTime: the broker stamps the batches.
    pub log_append_time: bool,
    /// `message.timestamp.after.max.ms`: how far ahead of the broker's clock a record may be.
    pub timestamp_after_max_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: i64,
    /// `delete.retention.ms`: how long a cleaned tombstone stays.
    pub delete_retention_ms: i64,
}

impl TopicSettings {
    /// What a topic that sets nothing gets: the broker's dynamic settings, else its static
    /// ones, else Kafka's defaults (the one table of them, in [`topic_config`]).
    pub(crate) fn defaults(broker: &BrokerConfig, dynamic: &DynamicConfigs) -> Self {
        let mut s = Self::kafka();
        for name in topic_config::names() {
            if let Some(value) = topic_config::static_default(name, broker) {
                s.set(name, &value);
            }
            if let Some((value, _)) = dynamic.topic_default(name) {
                s.set(name, value);
            }
        }
        s
    }

    /// These defaults with a topic's own configs over them.
    pub(crate) fn with(&self, configs: &[(String, String)]) -> Self {
        let mut s = *self;
        for (name, value) in configs {
            s.set(name, value);
        }
        s
    }

    /// Kafka's own defaults, from [`topic_config`]'s table.
    fn kafka() -> Self {
        let mut s = TopicSettings {
            delete: false,
            compact: false,
            retention_ms: 0,
            retention_bytes: 0,
            segment_bytes: 0,
            segment_ms: 0,
            max_message_bytes: 0,
            log_append_time: false,
            timestamp_after_max_ms: 0,
            min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: 0,
            delete_retention_ms: 0,
        };
        for name in topic_config::names() {
            if let Some(value) = topic_config::schema_default(name) {
                s.set(name, value);
            }
        }
        s
    }

    /// Take one config's value; a config that does not change what the broker does is ignored,
    /// and so is a value that does not parse (none does: see the module's comment).
    fn set(&mut self, name: &str, value: &str) {
        let v = value.trim();
        let long = |field: &mut i64| {
            if let Ok(n) = v.parse() {
                *field = n;
            }
        };
        let size = |field: &mut usize| {
            if let Ok(n) = v.parse::<i64>() {
                *field = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
            }
        };
        match name {
            "cleanup.policy" => {
                let has = |policy: &str| v.split(',').any(|p| p.trim() == policy);
                self.delete = has("delete");
                self.compact = has("compact");
            }
            "retention.ms" => long(&mut self.retention_ms),
            "retention.bytes" => long(&mut self.retention_bytes),
            "segment.bytes" => size(&mut self.segment_bytes),
            "segment.ms" => long(&mut self.segment_ms),
            "max.message.bytes" => size(&mut self.max_message_bytes),
            "message.timestamp.type" => self.log_append_time = v == "LogAppendTime",
            "message.timestamp.after.max.ms" => long(&mut self.timestamp_after_max_ms),
            "min.compaction.lag.ms" => long(&mut self.min_compaction_lag_ms),
            "max.compaction.lag.ms" => long(&mut self.max_compaction_lag_ms),
            "delete.retention.ms" => long(&mut self.delete_retention_ms),
            "min.cleanable.dirty.ratio" => {
                // Java's `d`/`f` suffixes are allowed (see `topic_config::validate`).
                if let Ok(r) = v.trim_end_matches(['d', 'D', 'f', 'F']).parse() {
                    self.min_cleanable_dirty_ratio = r;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn kafka_defaults_come_from_the_table() {
        let s = TopicSettings::kafka();
        assert!(s.delete && !s.compact && !s.log_append_time);
        assert_eq!(s.retention_ms, 604_800_000);
        assert_eq!(s.retention_bytes, -1);
        assert_eq!(s.segment_bytes, 1 << 30);
        assert_eq!(s.segment_ms, 604_800_000);
        assert_eq!(s.max_message_bytes, 1_048_588);
        assert_eq!(s.timestamp_after_max_ms, 3_600_000);
        assert_eq!(s.min_cleanable_dirty_ratio, 0.5);
        assert_eq!(s.min_compaction_lag_ms, 0);
        assert_eq!(s.max_compaction_lag_ms, i64::MAX);
        assert_eq!(s.delete_retention_ms, 86_400_000);
    }

    #[test]
    fn the_broker_then_the_topic_override_kafka() {
        let broker = BrokerConfig {
            retention_ms: 1_000,
            segment_size_bytes: 2 << 20,
            ..BrokerConfig::default()
        };
        let defaults = TopicSettings::defaults(&broker, &DynamicConfigs::default());
        assert_eq!(
            (defaults.retention_ms, defaults.segment_bytes),
            (1_000, 2 << 20)
        );
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let topic = defaults.with(&[
            pair("cleanup.policy", "compact, delete"),
            pair("retention.ms", " 5 "),
            pair("min.cleanable.dirty.ratio", "0.25d"),
            pair("message.timestamp.type", "LogAppendTime"),
            pair("compression.type", "zstd"),
        ]);
        assert!(topic.compact && topic.delete && topic.log_append_time);
        assert_eq!(topic.retention_ms, 5);
        assert_eq!(topic.min_cleanable_dirty_ratio, 0.25);
        assert_eq!(topic.segment_bytes, 2 << 20);
        let compact_only = defaults.with(&[pair("cleanup.policy", "compact")]);
        assert!(compact_only.compact && !compact_only.delete);
    }

    #[test]
    fn log_cleanup_policy_is_the_default_policy() {
        use crate::broker::CleanupPolicy;
        let broker = BrokerConfig {
            log_cleanup_policy: CleanupPolicy::Compact,
            ..BrokerConfig::default()
        };
        let defaults = TopicSettings::defaults(&broker, &DynamicConfigs::default());
        assert!(defaults.compact && !defaults.delete);
        let own = defaults.with(&[("cleanup.policy".to_string(), "delete".to_string())]);
        assert!(own.delete && !own.compact, "a topic's own policy wins");
        for (text, policy) in [
            ("delete", CleanupPolicy::Delete),
            ("compact", CleanupPolicy::Compact),
            (" delete , compact", CleanupPolicy::CompactDelete),
        ] {
            assert_eq!(CleanupPolicy::parse(text), Some(policy));
        }
        for bad in ["", "compact,compact", "forever", "delete,"] {
            assert_eq!(CleanupPolicy::parse(bad), None, "{bad:?}");
        }
        assert_eq!(CleanupPolicy::CompactDelete.as_str(), "compact,delete");
    }
}
