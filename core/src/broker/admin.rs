//! DeleteTopics and DescribeConfigs.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::dynamic_configs::{
    self, DynamicConfigs, Layer, SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT_BROKER,
};
use super::{Broker, BrokerConfig, Hdr, Reply, topic_config};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::delete_topics_response::DeletableTopicResult;
use crate::codec::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use crate::codec::messages::{
    DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
};
use crate::codec::primitives::Uuid;
use crate::storage::Storage;

/// Kafka's `ConfigResource.Type` values.
pub(super) const RESOURCE_TOPIC: i8 = 2;
pub(super) const RESOURCE_BROKER: i8 = 4;
/// Kafka's `ConfigSource` values.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// One config as DescribeConfigs reports it.
struct ConfigRow {
    name: String,
    /// `None` for a setting Kafka leaves unset (`log.retention.ms` beside its hours).
    value: Option<String>,
    source: i8,
    config_type: i8,
    /// Whether IncrementalAlterConfigs can change it.
    read_only: bool,
    /// Where the value could come from, most specific first (v1+, when asked for).
    synonyms: Vec<DescribeConfigsSynonym>,
}

/// Each config of a resource, or why the resource has none.
type ConfigRows = Result<Vec<ConfigRow>, (ErrorCode, String)>;

/// Kafka's default `log.retention.hours`, which a broker without a retention setting reports.
const KAFKA_RETENTION_HOURS: i64 = 168;
const HOUR_MS: i64 = 60 * 60 * 1000;

/// `(name, value, type, Kafka's default)` of a broker setting.
type BrokerEntry<'a> = (&'a str, Option<String>, i8, Option<&'static str>);

/// A broker setting: a dynamic value where one is set (this broker's before the cluster's),
/// else Kafka's default where it is one, or unset as Kafka leaves it (DEFAULT_CONFIG), else a
/// static setting; each listed with the values it overrides, as Kafka lists them.
fn broker_row(
    (name, value, config_type, default): BrokerEntry,
    dynamic: &DynamicConfigs,
) -> ConfigRow {
    let (source, mut synonyms) = if value.is_none() || value.as_deref() == default {
        let synonyms = value
            .iter()
            .map(|v| synonym(name, v, SOURCE_DEFAULT))
            .collect();
        (SOURCE_DEFAULT, synonyms)
    } else {
        let mut synonyms: Vec<_> = value
            .iter()
            .map(|v| synonym(name, v, SOURCE_STATIC_BROKER))
            .collect();
        synonyms.extend(default.map(|d| synonym(name, d, SOURCE_DEFAULT)));
        (SOURCE_STATIC_BROKER, synonyms)
    };
    let set: Vec<_> = dynamic
        .values(name)
        .map(|(v, source)| synonym(name, v, source))
        .collect();
    let (value, source) = match set.first() {
        Some(s) => (s.value.clone(), s.source),
        None => (value, source),
    };
    synonyms.splice(0..0, set);
    ConfigRow {
        name: String::from(name),
        value,
        source,
        config_type,
        read_only: !dynamic_configs::is_dynamic(name),
        synonyms,
    }
}

/// A dynamic setting the static list does not hold, as [`broker_row`] lists it: typed and
/// defaulted as the topic config it is the default of, if any.
fn dynamic_row(name: &str, dynamic: &DynamicConfigs) -> ConfigRow {
    let topic = topic_config::topic_config_of(name);
    let default = topic.and_then(topic_config::schema_default);
    let config_type = topic.map_or(0, topic_config::config_type);
    let mut row = broker_row((name, None, config_type, default), dynamic);
    row.synonyms
        .extend(default.map(|d| synonym(name, d, SOURCE_DEFAULT)));
    row
}

fn synonym(name: &str, value: &str, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym {
        name: name.into(),
        value: Some(value.into()),
        source,
    }
}

impl<S: Storage> Broker<S> {
    pub(super) fn delete_topics(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = DeleteTopicsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        // v6 names topics by name or id; earlier versions by name only.
        let targets: Vec<(Option<String>, Uuid)> = if v >= 6 {
            request
                .topics
                .into_iter()
                .map(|t| (t.name, t.topic_id))
                .collect()
        } else {
            request
                .topic_names
                .into_iter()
                .map(|n| (Some(n), Uuid::default()))
                .collect()
        };
        let responses = targets
            .into_iter()
            .map(|(name, id)| {
                let found = match &name {
                    Some(n) => self
                        .topics
                        .by_name(n)
                        .ok_or(ErrorCode::UnknownTopicOrPartition),
                    None => self.topics.by_id(&id).ok_or(ErrorCode::UnknownTopicId),
                };
                let result = found.and_then(|ti| match self.fault_topic(ti) {
                    Some(code) => Err(code),
                    None => self.delete_topic(ti),
                });
                let (name, id, code) = match result {
                    Ok((n, id)) => (Some(n), id, ErrorCode::None),
                    Err(code) => (name, id, code),
                };
                DeletableTopicResult {
                    // Only v6+ may say "no name" (a topic id nobody knows).
                    name: if v >= 6 {
                        name
                    } else {
                        Some(name.unwrap_or_default())
                    },
                    topic_id: if v >= 6 { id } else { Uuid::default() },
                    error_code: code.code(),
                    error_message: None,
                }
            })
            .collect();
        self.respond(
            hdr,
            &DeleteTopicsResponse {
                responses,
                ..Default::default()
            },
        )
    }

    fn delete_topic(&mut self, ti: u32) -> Result<(String, Uuid), ErrorCode> {
        let topic = self.topics.topic(ti);
        if super::names::is_broker_log(&topic.name) {
            // Its state lives there (Kafka 4 deletes them: the README lists the difference).
            return Err(ErrorCode::InvalidRequest);
        }
        let (name, id) = (topic.name.clone(), topic.id);
        for &pi in &topic.partitions {
            self.producers.forget_partition(pi);
            self.cleaner.forget(pi);
        }
        self.topics
            .delete(&mut self.storage, ti)
            .map_err(|_| ErrorCode::KafkaStorageError)?;
        if self.events.wants(super::EventLevel::Info) {
            // Dispatch names the request.
            self.events.push(super::Event::TopicDeleted {
                topic: name.clone(),
                by: None,
            });
        }
        Ok((name, id))
    }

    pub(super) fn describe_configs(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = DescribeConfigsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        let results = request
            .resources
            .iter()
            .map(|r| {
                let configs = match r.resource_type {
                    RESOURCE_TOPIC => self.topic_configs(&r.resource_name),
                    RESOURCE_BROKER => self.broker_configs(&r.resource_name),
                    _ => Err((
                        ErrorCode::InvalidRequest,
                        format!("Unsupported resource type {}", r.resource_type),
                    )),
                };
                let wanted = |name: &str| {
                    r.configuration_keys
                        .as_ref()
                        .is_none_or(|keys| keys.iter().any(|k| k == name))
                };
                match configs {
                    Ok(all) => DescribeConfigsResult {
                        error_code: 0,
                        error_message: None,
                        resource_type: r.resource_type,
                        resource_name: r.resource_name.clone(),
                        configs: all
                            .into_iter()
                            .filter(|row| wanted(&row.name))
                            .map(|row| DescribeConfigsResourceResult {
                                read_only: row.read_only,
                                is_default: v == 0 && row.source == SOURCE_DEFAULT,
                                config_source: row.source,
                                is_sensitive: false,
                                synonyms: if v >= 1 && request.include_synonyms {
                                    row.synonyms
                                } else {
                                    Vec::new()
                                },
                                config_type: if v >= 3 { row.config_type } else { 0 },
                                documentation: None,
                                name: row.name,
                                value: row.value,
                            })
                            .collect(),
                    },
                    Err((code, message)) => DescribeConfigsResult {
                        error_code: code.code(),
                        error_message: Some(message),
                        resource_type: r.resource_type,
                        resource_name: r.resource_name.clone(),
                        configs: Vec::new(),
                    },
                }
            })
            .collect();
        self.respond(
            hdr,
            &DescribeConfigsResponse {
                throttle_time_ms: 0,
                results,
            },
        )
    }

    /// `(name, value, source, type)` of every config of a topic.
    fn topic_configs(&self, name: &str) -> ConfigRows {
        let ti = self.topics.by_name(name).ok_or_else(|| {
            (
                ErrorCode::UnknownTopicOrPartition,
                format!("Topic '{name}' does not exist."),
            )
        })?;
        let topic = self.topics.topic(ti);
        let defaults = topic_config::effective(&[], &self.config);
        let rows = topic_config::effective(&topic.configs, &self.config)
            .into_iter()
            .zip(defaults)
            .map(|((name, value, set), (_, default, _))| {
                let mut synonyms = Vec::new();
                if set {
                    synonyms.push(synonym(&name, &value, SOURCE_TOPIC));
                }
                // Dynamic broker settings, this broker's before the cluster's.
                if let Some(broker_name) = topic_config::broker_setting(&name) {
                    for (v, source) in self.dynamic.values(broker_name) {
                        synonyms.push(synonym(broker_name, v, source));
                    }
                }
                // Once `log.retention.ms` is set, Kafka lists the hours it overrides after it.
                if name == "retention.ms" && synonyms.iter().any(|s| s.source != SOURCE_TOPIC) {
                    let hours = KAFKA_RETENTION_HOURS.to_string();
                    synonyms.push(synonym("log.retention.hours", &hours, SOURCE_DEFAULT));
                }
                let (value, source) = match synonyms.first() {
                    Some(s) => (s.value.clone(), s.source),
                    None => (Some(value), SOURCE_DEFAULT),
                };
                // The broker setting the default comes from, as Kafka lists it after the topic's.
                if let Some(broker_name) = topic_config::broker_synonym(&name) {
                    let set_static = broker_name == "log.segment.bytes"
                        || (broker_name == "log.cleanup.policy"
                            && self.config.log_cleanup_policy != super::CleanupPolicy::Delete);
                    let source = if set_static {
                        SOURCE_STATIC_BROKER
                    } else {
                        SOURCE_DEFAULT
                    };
                    synonyms.push(synonym(broker_name, &default, source));
                }
                ConfigRow {
                    config_type: topic_config::config_type(&name),
                    read_only: false,
                    source,
                    name,
                    value,
                    synonyms,
                }
            });
        Ok(rows.collect())
    }

    /// The broker settings a client may ask about, as Kafka names them; for the cluster's
    /// default (the empty name) only the dynamic defaults set, as Kafka answers.
    fn broker_configs(&self, name: &str) -> ConfigRows {
        if !name.is_empty() && name != self.config.broker_id.to_string() {
            return Err((
                ErrorCode::InvalidRequest,
                format!("Unexpected broker id, expected {}", self.config.broker_id),
            ));
        }
        let dynamic = &self.dynamic;
        let listed = broker_entries(&self.config);
        let unlisted = |layer| {
            dynamic
                .layer(layer)
                .iter()
                .filter(|(n, _)| !listed.iter().any(|e| e.0 == n))
                .map(|(n, _)| dynamic_row(n, dynamic))
                .collect::<Vec<_>>()
        };
        if name.is_empty() {
            let set = dynamic.layer(Layer::Cluster);
            let rows = listed
                .clone()
                .into_iter()
                .filter(|e| set.iter().any(|(n, _)| n == e.0))
                .map(|e| broker_row(e, dynamic))
                .chain(unlisted(Layer::Cluster))
                .map(|mut row| {
                    // This broker's own value is not the cluster default's.
                    row.synonyms.retain(|s| s.source != SOURCE_DYNAMIC_BROKER);
                    row.value = row.synonyms.first().and_then(|s| s.value.clone());
                    row.source = SOURCE_DYNAMIC_DEFAULT_BROKER;
                    row
                });
            return Ok(rows.collect());
        }
        let mut rows: Vec<ConfigRow> = listed
            .clone()
            .into_iter()
            .map(|e| broker_row(e, dynamic))
            .collect();
        rows.extend(unlisted(Layer::Broker));
        let cluster_only = unlisted(Layer::Cluster)
            .into_iter()
            .filter(|row| !rows.iter().any(|r| r.name == row.name));
        rows.extend(cluster_only.collect::<Vec<_>>());
        Ok(rows)
    }
}

/// `log.retention.ms` as Kafka reports it: unset when the retention is Kafka's default (168
/// hours), the milliseconds otherwise.
fn retention_ms_setting(retention_ms: i64) -> Option<String> {
    (retention_ms != KAFKA_RETENTION_HOURS * HOUR_MS).then(|| retention_ms.to_string())
}

/// `(name, value, type, Kafka's default)` of each broker setting a client may ask about: a
/// value equal to Kafka's default is reported as Kafka reports a setting its operator left alone,
/// DEFAULT_CONFIG.
// A table: one row per setting.
#[allow(clippy::too_many_lines)]
fn broker_entries(c: &BrokerConfig) -> [BrokerEntry<'static>; 13] {
    let (long, int, boolean, string) = (5, 3, 1, 2);
    [
        ("broker.id", Some(c.broker_id.to_string()), int, None),
        (
            "advertised.listeners",
            Some(format!(
                "PLAINTEXT://{}:{}",
                c.advertised_host, c.advertised_port
            )),
            string,
            None,
        ),
        (
            "auto.create.topics.enable",
            Some(c.auto_create_topics.to_string()),
            boolean,
            Some("true"),
        ),
        (
            "num.partitions",
            Some(c.num_partitions.to_string()),
            int,
            Some("1"),
        ),
        (
            "default.replication.factor",
            Some(String::from("1")),
            int,
            Some("1"),
        ),
        // Kafka leaves `log.retention.ms` and `.minutes` unset and keeps 168 hours: the
        // same retention as BlazeMQ's default.
        (
            "log.retention.ms",
            retention_ms_setting(c.retention_ms),
            long,
            None,
        ),
        ("log.retention.minutes", None, int, None),
        (
            "log.retention.hours",
            Some(KAFKA_RETENTION_HOURS.to_string()),
            int,
            Some("168"),
        ),
        (
            "log.segment.bytes",
            Some(c.segment_size_bytes.to_string()),
            int,
            Some("1073741824"),
        ),
        (
            "message.max.bytes",
            Some(crate::limits::BATCH_SIZE_BYTES_MAX_DEFAULT.to_string()),
            int,
            Some("1048588"),
        ),
        (
            "group.initial.rebalance.delay.ms",
            Some(c.group_initial_rebalance_delay_ms.to_string()),
            int,
            Some("3000"),
        ),
        (
            "group.min.session.timeout.ms",
            Some(c.group_min_session_timeout_ms.to_string()),
            int,
            Some("6000"),
        ),
        (
            "group.max.session.timeout.ms",
            Some(c.group_max_session_timeout_ms.to_string()),
            int,
            Some("1800000"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::harness::{Driver, broker, call, create};
    use crate::codec::messages::delete_topics_request::DeleteTopicState;
    use crate::codec::messages::describe_configs_request::DescribeConfigsResource;
    use alloc::vec;

    fn synonyms(v: i16, include: bool, name: &str) -> Vec<(String, String, i8)> {
        let mut b = broker();
        create(
            &mut b,
            "t",
            1,
            &[("max.message.bytes", "2000000"), ("retention.ms", "1000")],
        );
        let req = DescribeConfigsRequest {
            resources: alloc::vec![DescribeConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: "t".into(),
                configuration_keys: Some(alloc::vec![name.into()]),
            }],
            include_synonyms: include,
            ..Default::default()
        };
        let resp: DescribeConfigsResponse = call(&mut b, v, &req);
        resp.results[0].configs[0]
            .synonyms
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.value.clone().unwrap_or_default(),
                    s.source,
                )
            })
            .collect()
    }

    fn syn(name: &str, value: &str, source: i8) -> (String, String, i8) {
        (name.into(), value.into(), source)
    }

    #[test]
    fn the_broker_logs_cannot_be_deleted() {
        let mut b = broker();
        for name in ["__consumer_offsets", "__transaction_state"] {
            create(&mut b, name, 1, &[]);
            for v in [4, 6] {
                // v6 names a topic in `topics`, earlier versions in `topic_names`.
                let req = if v >= 6 {
                    DeleteTopicsRequest {
                        topics: vec![DeleteTopicState {
                            name: Some(name.into()),
                            topic_id: Uuid::default(),
                        }],
                        timeout_ms: 1000,
                        ..Default::default()
                    }
                } else {
                    DeleteTopicsRequest {
                        topic_names: vec![name.into()],
                        timeout_ms: 1000,
                        ..Default::default()
                    }
                };
                let resp: DeleteTopicsResponse = call(&mut b, v, &req);
                assert_eq!(
                    resp.responses[0].error_code,
                    ErrorCode::InvalidRequest.code(),
                    "{name} v{v}"
                );
            }
            assert!(b.topics.by_name(name).is_some(), "{name} is kept");
        }
    }

    #[test]
    fn broker_settings_at_kafkas_defaults_are_default_configs() {
        let mut b = broker();
        let req = DescribeConfigsRequest {
            resources: alloc::vec![DescribeConfigsResource {
                resource_type: RESOURCE_BROKER,
                resource_name: "0".into(),
                configuration_keys: None,
            }],
            include_synonyms: true,
            ..Default::default()
        };
        let resp: DescribeConfigsResponse = call(&mut b, 4, &req);
        let configs = &resp.results[0].configs;
        let find = |name: &str| {
            configs.iter().find(|c| c.name == name).map(|c| {
                let syn: Vec<_> = c
                    .synonyms
                    .iter()
                    .map(|s| (s.value.clone().unwrap_or_default(), s.source))
                    .collect();
                (
                    c.value.clone().unwrap_or_default(),
                    c.config_source,
                    c.read_only,
                    syn,
                )
            })
        };
        assert_eq!(
            find("message.max.bytes"),
            Some((
                "1048588".into(),
                SOURCE_DEFAULT,
                false,
                alloc::vec![("1048588".into(), SOURCE_DEFAULT)]
            ))
        );
        assert_eq!(
            find("group.initial.rebalance.delay.ms"),
            Some((
                "0".into(),
                SOURCE_STATIC_BROKER,
                true,
                alloc::vec![
                    ("0".into(), SOURCE_STATIC_BROKER),
                    ("3000".into(), SOURCE_DEFAULT)
                ]
            ))
        );
    }

    /// As Kafka 4 lists them (kafka-configs --describe shows them).
    #[test]
    fn topic_configs_list_their_synonyms_when_asked() {
        assert_eq!(
            synonyms(4, true, "max.message.bytes"),
            [
                syn("max.message.bytes", "2000000", SOURCE_TOPIC),
                syn("message.max.bytes", "1048588", SOURCE_DEFAULT),
            ]
        );
        assert_eq!(
            synonyms(1, true, "retention.ms"),
            [syn("retention.ms", "1000", SOURCE_TOPIC)]
        );
        assert_eq!(
            synonyms(4, true, "cleanup.policy"),
            [syn("log.cleanup.policy", "delete", SOURCE_DEFAULT)]
        );
        assert_eq!(synonyms(4, false, "max.message.bytes"), []);
        assert_eq!(
            synonyms(0, false, "max.message.bytes"),
            [],
            "v0 has no synonyms"
        );
    }

    fn broker_rows(
        b: &mut Driver<crate::storage::MemoryStorage>,
    ) -> Vec<DescribeConfigsResourceResult> {
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_BROKER,
                resource_name: "0".into(),
                configuration_keys: None,
            }],
            ..Default::default()
        };
        let resp: DescribeConfigsResponse = call(b, 4, &req);
        assert_eq!(resp.results[0].error_code, 0);
        resp.results.into_iter().flat_map(|r| r.configs).collect()
    }

    fn row<'a>(
        rows: &'a [DescribeConfigsResourceResult],
        name: &str,
    ) -> &'a DescribeConfigsResourceResult {
        rows.iter()
            .find(|r| r.name == name)
            .expect("the broker reports it")
    }

    #[test]
    fn broker_settings_at_kafkas_defaults_are_reported_as_defaults() {
        let mut b = broker();
        let rows = broker_rows(&mut b);
        let view = |name| {
            let r = row(&rows, name);
            (r.value.clone(), r.config_source, r.read_only)
        };
        let default = |v: &str| (Some(String::from(v)), SOURCE_DEFAULT, true);
        assert_eq!(view("log.retention.hours"), default("168"));
        // Read-only as Kafka reports them: whether they can change while the broker runs.
        assert_eq!(view("log.retention.ms"), (None, SOURCE_DEFAULT, false));
        assert_eq!(view("log.retention.minutes"), (None, SOURCE_DEFAULT, true));
        let dynamic = (Some(String::from("1048588")), SOURCE_DEFAULT, false);
        assert_eq!(view("message.max.bytes"), dynamic);
        assert_eq!(view("auto.create.topics.enable"), default("true"));
        assert_eq!(view("num.partitions"), default("1"));
        // Kafka's default is 3000 ms and it has no default broker id: both are settings.
        let set = |v: &str| (Some(String::from(v)), SOURCE_STATIC_BROKER, true);
        assert_eq!(view("group.initial.rebalance.delay.ms"), set("0"));
        assert_eq!(view("broker.id"), set("0"));
    }

    #[test]
    fn a_retention_other_than_kafkas_default_is_a_static_setting() {
        assert_eq!(retention_ms_setting(604_800_000), None);
        assert_eq!(retention_ms_setting(1000), Some(String::from("1000")));
        assert_eq!(retention_ms_setting(-1), Some(String::from("-1")));
    }
}
