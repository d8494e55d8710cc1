//! IncrementalAlterConfigs and AlterConfigs: a topic's configs change, checked as CreateTopics
//! checks them, and are written to every partition's metadata file before the answer; the
//! broker's dynamic settings change likewise (`dynamic_configs.rs`), its static ones never.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::admin::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::dynamic_configs::{self, Layer};
use super::names::invalid_topic_reason;
use super::topic_settings::TopicSettings;
use super::{Broker, Hdr, Reply, topic_config};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, alter_configs_response, incremental_alter_configs_response,
};
use crate::storage::Storage;

/// Kafka's `AlterConfigOp.OpType` ids.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// One requested change of a config; AlterConfigs sends only SETs.
struct Change<'a> {
    name: &'a str,
    op: i8,
    value: Option<&'a str>,
}

/// A resource to change: its type, name and changes.
struct Resource<'a> {
    kind: i8,
    name: &'a str,
    changes: Vec<Change<'a>>,
}

impl<'a> Resource<'a> {
    /// The resource of type `kind` named `name` with one change per entry of `configs`.
    fn of<C>(
        kind: i8,
        name: &'a str,
        configs: &'a [C],
        change: impl Fn(&'a C) -> Change<'a>,
    ) -> Self {
        Resource {
            kind,
            name,
            changes: configs.iter().map(change).collect(),
        }
    }
}

/// Why a resource was left as it was: Kafka's code and message.
type Refusal = (ErrorCode, String);

impl<S: Storage> Broker<S> {
    pub(super) fn incremental_alter_configs(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = IncrementalAlterConfigsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let resources: Vec<Resource> = request
            .resources
            .iter()
            .map(|r| {
                Resource::of(r.resource_type, &r.resource_name, &r.configs, |c| Change {
                    name: &c.name,
                    op: c.config_operation,
                    value: c.value.as_deref(),
                })
            })
            .collect();
        let responses = self.alter_answers(
            &resources,
            false,
            request.validate_only,
            |r, code, message| incremental_alter_configs_response::AlterConfigsResourceResponse {
                error_code: code,
                error_message: message,
                resource_type: r.kind,
                resource_name: r.name.into(),
            },
        );
        self.respond(
            hdr,
            &IncrementalAlterConfigsResponse {
                throttle_time_ms: 0,
                responses,
            },
        )
    }

    pub(super) fn alter_configs(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = AlterConfigsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let resources: Vec<Resource> = request
            .resources
            .iter()
            .map(|r| {
                Resource::of(r.resource_type, &r.resource_name, &r.configs, |c| Change {
                    name: &c.name,
                    op: OP_SET,
                    value: c.value.as_deref(),
                })
            })
            .collect();
        // AlterConfigs sets the whole set: what the request leaves out returns to its default.
        let responses = self.alter_answers(
            &resources,
            true,
            request.validate_only,
            |r, code, message| alter_configs_response::AlterConfigsResourceResponse {
                error_code: code,
                error_message: message,
                resource_type: r.kind,
                resource_name: r.name.into(),
            },
        );
        self.respond(
            hdr,
            &AlterConfigsResponse {
                throttle_time_ms: 0,
                responses,
            },
        )
    }

    /// [`Broker::alter_all`], each result made into the response entry that `entry` builds
    /// from the resource, the error code and the message.
    fn alter_answers<R>(
        &mut self,
        resources: &[Resource],
        replace: bool,
        validate_only: bool,
        entry: impl Fn(&Resource, i16, Option<String>) -> R,
    ) -> Vec<R> {
        let results = self.alter_all(resources, replace, validate_only);
        resources
            .iter()
            .zip(results)
            .map(|(r, result)| {
                let (code, message) = split(result);
                entry(r, code.code(), message)
            })
            .collect()
    }

    /// Change each resource on its own; one result per resource, in request order.
    fn alter_all(
        &mut self,
        resources: &[Resource],
        replace: bool,
        validate_only: bool,
    ) -> Vec<Result<(), Refusal>> {
        // Per name, two bits per type: seen, and seen again (other types share a pair; they are
        // refused anyway).
        let bits = |kind| match kind {
            RESOURCE_TOPIC => 1,
            RESOURCE_BROKER => 4,
            _ => 16,
        };
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for r in resources {
            let b = bits(r.kind);
            let s = seen.entry(r.name).or_default();
            *s |= if *s & b != 0 { b << 1 } else { b };
        }
        resources
            .iter()
            .map(|r| {
                if seen
                    .get(r.name)
                    .is_some_and(|s| s & (bits(r.kind) << 1) != 0)
                {
                    // Kafka refuses every copy of a resource named twice.
                    return Err((
                        ErrorCode::InvalidRequest,
                        String::from("Each resource must appear at most once."),
                    ));
                }
                self.alter_resource(r, replace, validate_only)
            })
            .collect()
    }

    /// Kafka's checks on any resource (repeated keys, missing values), then by its type.
    fn alter_resource(
        &mut self,
        r: &Resource,
        replace: bool,
        validate_only: bool,
    ) -> Result<(), Refusal> {
        let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
        if r.changes.iter().any(|c| keys.insert(c.name, 0).is_some()) {
            return Err((
                ErrorCode::InvalidRequest,
                String::from("Error due to duplicate config keys"),
            ));
        }
        let nulls: Vec<&str> = r
            .changes
            .iter()
            .filter(|c| c.op != OP_DELETE && c.value.is_none())
            .map(|c| c.name)
            .collect();
        if !nulls.is_empty() {
            return Err((
                ErrorCode::InvalidRequest,
                format!("Null value not supported for : {}", nulls.join(", ")),
            ));
        }
        if let Some(c) = r
            .changes
            .iter()
            .find(|c| !(OP_SET..=OP_SUBTRACT).contains(&c.op))
        {
            return Err((
                ErrorCode::InvalidRequest,
                format!("Unknown operations type {}", c.op),
            ));
        }
        match r.kind {
            RESOURCE_TOPIC => self.alter_topic(r.name, &r.changes, replace, validate_only),
            RESOURCE_BROKER => self.alter_broker(r.name, &r.changes, replace, validate_only),
            // Kafka's BROKER_LOGGER, CLIENT_METRICS and GROUP are not served here.
            kind => Err((
                ErrorCode::InvalidRequest,
                format!("Unsupported resource type {kind}"),
            )),
        }
    }

    /// A broker resource: this broker (named by its id) or every broker (the empty name). Kafka
    /// refuses to change a static setting ("Cannot update these configs dynamically",
    /// KAFKA-13609) and a value its config cannot hold, and keeps the rest (see
    /// `dynamic_configs.rs`); deleting a value that is not set changes nothing.
    fn alter_broker(
        &mut self,
        name: &str,
        changes: &[Change],
        replace: bool,
        validate_only: bool,
    ) -> Result<(), Refusal> {
        let layer = self.broker_layer(name)?;
        let fixed = dynamic_configs::static_names(
            changes.iter().filter(|c| c.op != OP_DELETE).map(|c| c.name),
        );
        if !fixed.is_empty() {
            return Err((
                ErrorCode::InvalidRequest,
                format!(
                    "Cannot update these configs dynamically: Set({})",
                    fixed.join(", ")
                ),
            ));
        }
        let settings = if replace {
            replaced(changes)
        } else {
            apply(self.dynamic.layer(layer), changes, |name| {
                topic_config::topic_config_of(name).unwrap_or(name)
            })?
        };
        for (k, v) in &settings {
            dynamic_configs::check(k, v).map_err(|m| (ErrorCode::InvalidRequest, m))?;
        }
        if validate_only || &settings == self.dynamic.layer(layer) {
            return Ok(());
        }
        let next = self.dynamic.with(layer, settings);
        self.storage
            .write_broker_configs(&next.to_bytes())
            .map_err(|_| {
                (
                    ErrorCode::KafkaStorageError,
                    String::from("Could not write the broker configs"),
                )
            })?;
        self.dynamic = next;
        self.topic_defaults = TopicSettings::defaults(&self.config, &self.dynamic);
        self.topics.set_defaults(&self.topic_defaults);
        Ok(())
    }

    /// The dynamic layer a BROKER resource's name picks, or Kafka's refusal of the name.
    pub(super) fn broker_layer(&self, name: &str) -> Result<Layer, Refusal> {
        if name.is_empty() {
            return Ok(Layer::Cluster);
        }
        // As Java's Integer.parseInt reads it (an i64 parser is already in the binary).
        let id = name.parse::<i64>().ok().and_then(|n| i32::try_from(n).ok());
        let id = id.ok_or_else(|| {
            (
                ErrorCode::InvalidRequest,
                format!("Node id must be an integer, but it is: {name}"),
            )
        })?;
        if id != self.config.broker_id {
            return Err((
                ErrorCode::InvalidRequest,
                format!(
                    "Unexpected broker id, expected {}, but received {name}",
                    self.config.broker_id
                ),
            ));
        }
        Ok(Layer::Broker)
    }

    /// Work out a topic's new configs, check them all (as Kafka does, before it looks for the
    /// topic), then write them unless `validate_only`.
    fn alter_topic(
        &mut self,
        name: &str,
        changes: &[Change],
        replace: bool,
        validate_only: bool,
    ) -> Result<(), Refusal> {
        if name.is_empty() {
            return Err((
                ErrorCode::InvalidRequest,
                String::from("Default topic resources are not allowed."),
            ));
        }
        if let Some(reason) = invalid_topic_reason(name) {
            return Err((ErrorCode::InvalidTopicException, reason));
        }
        let ti = self.topics.by_name(name);
        let current = ti.map_or(&[][..], |ti| &self.topics.topic(ti).configs[..]);
        let configs = if replace {
            replaced(changes)
        } else {
            apply(current, changes, |name| name)?
        };
        for (k, v) in &configs {
            topic_config::validate(k, Some(v)).map_err(|m| (ErrorCode::InvalidConfig, m))?;
        }
        let Some(ti) = ti else {
            return Err((
                ErrorCode::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        if validate_only || configs == self.topics.topic(ti).configs {
            return Ok(());
        }
        self.topics
            .set_configs(&mut self.storage, ti, configs, &self.topic_defaults)
            .map_err(|_| {
                (
                    ErrorCode::KafkaStorageError,
                    format!("Could not write the configs of topic '{name}'"),
                )
            })
    }
}

/// A result as a response's error code and message (none on success).
fn split(result: Result<(), Refusal>) -> (ErrorCode, Option<String>) {
    match result {
        Ok(()) => (ErrorCode::None, None),
        Err((code, message)) => (code, Some(message)),
    }
}

/// AlterConfigs' changes as the whole new set.
fn replaced(changes: &[Change]) -> Vec<(String, String)> {
    changes
        .iter()
        .map(|c| {
            (
                String::from(c.name),
                String::from(c.value.unwrap_or_default()),
            )
        })
        .collect()
}

/// `current` with IncrementalAlterConfigs' changes applied in order, as Kafka's controller
/// applies them: SET replaces, DELETE returns to the default, APPEND and SUBTRACT edit a list
/// (starting from Kafka's default when it is not set). `as_topic` names the topic config whose
/// type and default a name has (a broker setting: the config it is the default of).
fn apply<'a>(
    current: &[(String, String)],
    changes: &[Change<'a>],
    as_topic: impl Fn(&'a str) -> &'a str,
) -> Result<Vec<(String, String)>, Refusal> {
    let mut configs = current.to_vec();
    for c in changes {
        let at = configs.iter().position(|(k, _)| k == c.name);
        let value = match c.op {
            OP_SET => c.value.map(String::from),
            OP_DELETE => None,
            op => {
                let verb = if op == OP_APPEND {
                    "APPEND"
                } else {
                    "SUBTRACT"
                };
                if !topic_config::is_list(as_topic(c.name)) {
                    return Err((
                        ErrorCode::InvalidConfig,
                        format!(
                            "Can't {verb} to key {} because its type is not LIST.",
                            c.name
                        ),
                    ));
                }
                let old = match at {
                    Some(i) => configs[i].1.as_str(),
                    None => topic_config::schema_default(as_topic(c.name)).unwrap_or_default(),
                };
                let mut items: Vec<&str> = old.split(',').filter(|s| !s.is_empty()).collect();
                for item in c.value.unwrap_or_default().split(',') {
                    let found = items.iter().position(|x| *x == item);
                    match (op, found) {
                        (_, _) if item.is_empty() => {}
                        (OP_APPEND, None) => items.push(item),
                        (OP_SUBTRACT, Some(i)) => {
                            items.remove(i);
                        }
                        _ => {}
                    }
                }
                Some(items.join(","))
            }
        };
        match (at, value) {
            (Some(i), Some(v)) => configs[i].1 = v,
            (None, Some(v)) => configs.push((String::from(c.name), v)),
            (Some(i), None) => {
                configs.remove(i);
            }
            (None, None) => {}
        }
    }
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::harness::{Driver, broker, call, create, driven, produce_request};
    use crate::codec::messages::alter_configs_request as legacy;
    use crate::codec::messages::describe_configs_request::DescribeConfigsResource;
    use crate::codec::messages::incremental_alter_configs_request as inc;
    use crate::codec::messages::{
        DescribeConfigsRequest, DescribeConfigsResponse, ProduceResponse,
    };
    use crate::records::BatchBuilder;
    use crate::storage::{FoundPartition, FoundSegment, MemorySegment, MemoryStorage};
    use alloc::vec;

    fn incremental(
        kind: i8,
        name: &str,
        ops: &[(&str, i8, Option<&str>)],
    ) -> inc::AlterConfigsResource {
        inc::AlterConfigsResource {
            resource_type: kind,
            resource_name: name.into(),
            configs: ops
                .iter()
                .map(|&(n, op, v)| inc::AlterableConfig {
                    name: n.into(),
                    config_operation: op,
                    value: v.map(String::from),
                })
                .collect(),
        }
    }

    /// IncrementalAlterConfigs v1 of `resources`: each resource's (code, message).
    fn alter(
        b: &mut Driver<MemoryStorage>,
        resources: Vec<inc::AlterConfigsResource>,
        validate_only: bool,
    ) -> Vec<(i16, Option<String>)> {
        let req = IncrementalAlterConfigsRequest {
            resources,
            validate_only,
        };
        let resp: IncrementalAlterConfigsResponse = call(b, 1, &req);
        resp.responses
            .into_iter()
            .map(|r| (r.error_code, r.error_message))
            .collect()
    }

    fn legacy_alter(
        b: &mut Driver<MemoryStorage>,
        v: i16,
        kind: i8,
        name: &str,
        configs: &[(&str, Option<&str>)],
    ) -> (i16, Option<String>) {
        let req = AlterConfigsRequest {
            resources: vec![legacy::AlterConfigsResource {
                resource_type: kind,
                resource_name: name.into(),
                configs: configs
                    .iter()
                    .map(|&(n, v)| legacy::AlterableConfig {
                        name: n.into(),
                        value: v.map(String::from),
                    })
                    .collect(),
            }],
            validate_only: false,
        };
        let resp: AlterConfigsResponse = call(b, v, &req);
        assert_eq!(resp.responses[0].resource_name, name);
        (
            resp.responses[0].error_code,
            resp.responses[0].error_message.clone(),
        )
    }

    /// `name`'s value and source as DescribeConfigs reports it.
    fn described(b: &mut Driver<MemoryStorage>, topic: &str, name: &str) -> (String, i8) {
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: topic.into(),
                configuration_keys: Some(vec![name.into()]),
            }],
            ..Default::default()
        };
        let resp: DescribeConfigsResponse = call(b, 4, &req);
        let c = &resp.results[0].configs[0];
        (c.value.clone().unwrap_or_default(), c.config_source)
    }

    fn ok() -> (i16, Option<String>) {
        (0, None)
    }

    #[test]
    fn set_delete_append_subtract_show_in_describe_configs() {
        let mut b = broker();
        create(&mut b, "t", 2, &[("retention.ms", "100")]);
        let ops = [
            ("retention.ms", OP_SET, Some("5000")),
            ("cleanup.policy", OP_APPEND, Some("compact")),
            ("max.message.bytes", OP_DELETE, None),
        ];
        assert_eq!(
            alter(&mut b, vec![incremental(2, "t", &ops)], false),
            vec![ok()]
        );
        assert_eq!(described(&mut b, "t", "retention.ms"), ("5000".into(), 1));
        assert_eq!(
            described(&mut b, "t", "cleanup.policy"),
            ("delete,compact".into(), 1),
            "appended to Kafka's default"
        );
        let ops = [
            ("retention.ms", OP_DELETE, None),
            ("cleanup.policy", OP_SUBTRACT, Some("delete")),
        ];
        assert_eq!(
            alter(&mut b, vec![incremental(2, "t", &ops)], false),
            vec![ok()]
        );
        assert_eq!(
            described(&mut b, "t", "retention.ms"),
            ("604800000".into(), 5)
        );
        assert_eq!(
            described(&mut b, "t", "cleanup.policy"),
            ("compact".into(), 1)
        );
        // Every partition's file holds the new set.
        for p in 0..2 {
            let file = &b.storage.metadata[&(String::from("t"), p)];
            let text = core::str::from_utf8(file).expect("text");
            assert!(text.contains("config.cleanup.policy: compact\n"), "{text}");
            assert!(!text.contains("retention.ms"), "{text}");
        }
    }

    #[test]
    // A table: one case per refusal, each with Kafka's code and message.
    #[allow(clippy::too_many_lines)]
    fn refusals_are_kafkas() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let cases: Vec<(inc::AlterConfigsResource, i16, &str)> = vec![
            (
                incremental(2, "t", &[("retention.ms", OP_APPEND, Some("1"))]),
                40,
                "Can't APPEND to key retention.ms because its type is not LIST.",
            ),
            (
                incremental(2, "t", &[("segment.ms", OP_SUBTRACT, Some("1"))]),
                40,
                "Can't SUBTRACT to key segment.ms because its type is not LIST.",
            ),
            (
                incremental(2, "t", &[("retention.ms", OP_SET, Some("soon"))]),
                40,
                "Invalid value soon for configuration retention.ms",
            ),
            (
                incremental(2, "t", &[("no.such", OP_SET, Some("1"))]),
                40,
                "Unknown topic config name: no.such",
            ),
            (
                incremental(2, "t", &[("cleanup.policy", OP_APPEND, Some("forever"))]),
                40,
                "Invalid value delete,forever for configuration cleanup.policy",
            ),
            (
                incremental(2, "t", &[("retention.ms", OP_SET, None)]),
                42,
                "Null value not supported for : retention.ms",
            ),
            (
                incremental(
                    2,
                    "t",
                    &[
                        ("retention.ms", OP_SET, Some("1")),
                        ("retention.ms", OP_DELETE, None),
                    ],
                ),
                42,
                "Error due to duplicate config keys",
            ),
            (
                incremental(2, "t", &[("retention.ms", 9, Some("1"))]),
                42,
                "Unknown operations type 9",
            ),
            (
                incremental(2, "nope", &[("retention.ms", OP_SET, Some("1"))]),
                3,
                "The topic 'nope' does not exist.",
            ),
            (
                incremental(2, "", &[]),
                42,
                "Default topic resources are not allowed.",
            ),
            (incremental(3, "t", &[]), 42, "Unsupported resource type 3"),
            (
                incremental(32, "g", &[]),
                42,
                "Unsupported resource type 32",
            ),
        ];
        for (resource, code, message) in cases {
            assert_eq!(
                alter(&mut b, vec![resource], false),
                vec![(code, Some(String::from(message)))]
            );
        }
        assert_eq!(
            described(&mut b, "t", "retention.ms").1,
            5,
            "nothing was set"
        );
        let twice = alter(
            &mut b,
            vec![incremental(2, "t", &[]), incremental(2, "t", &[])],
            false,
        );
        let refusal = (
            42,
            Some(String::from("Each resource must appear at most once.")),
        );
        assert_eq!(twice, vec![refusal.clone(), refusal]);
    }

    #[test]
    fn validate_only_checks_and_changes_nothing() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let set = [("retention.ms", OP_SET, Some("1"))];
        assert_eq!(
            alter(&mut b, vec![incremental(2, "t", &set)], true),
            vec![ok()]
        );
        assert_eq!(described(&mut b, "t", "retention.ms").1, 5);
        let bad = [("retention.ms", OP_SET, Some("x"))];
        assert_eq!(
            alter(&mut b, vec![incremental(2, "t", &bad)], true)[0].0,
            40
        );
    }

    #[test]
    fn static_broker_settings_and_bad_values_are_refused() {
        let mut b = broker();
        let set = [
            ("log.retention.hours", OP_SET, Some("1")),
            ("num.partitions", OP_SET, Some("3")),
            ("log.retention.ms", OP_SET, Some("1")),
        ];
        assert_eq!(
            alter(&mut b, vec![incremental(4, "0", &set)], false),
            vec![(
                42,
                Some(String::from(
                    "Cannot update these configs dynamically: Set(log.retention.hours, num.partitions)"
                ))
            )]
        );
        let bad = [("log.retention.ms", OP_SET, Some("abc"))];
        assert_eq!(
            alter(&mut b, vec![incremental(4, "", &bad)], false),
            vec![(
                42,
                Some(String::from(
                    "Invalid value abc for configuration log.retention.ms"
                ))
            )]
        );
        let not_a_list = [("log.retention.ms", OP_APPEND, Some("1"))];
        assert_eq!(
            alter(&mut b, vec![incremental(4, "0", &not_a_list)], false)[0].0,
            40
        );
        let delete = [("log.retention.ms", OP_DELETE, None)];
        assert_eq!(
            alter(&mut b, vec![incremental(4, "", &delete)], false),
            vec![ok()]
        );
        assert_eq!(
            alter(&mut b, vec![incremental(4, "5", &delete)], false),
            vec![(
                42,
                Some(String::from(
                    "Unexpected broker id, expected 0, but received 5"
                ))
            )]
        );
        assert_eq!(
            alter(&mut b, vec![incremental(4, "2147483648", &delete)], false),
            vec![(
                42,
                Some(String::from(
                    "Node id must be an integer, but it is: 2147483648"
                ))
            )]
        );
        assert_eq!(
            alter(&mut b, vec![incremental(4, "x", &delete)], false),
            vec![(
                42,
                Some(String::from("Node id must be an integer, but it is: x"))
            )]
        );
        let (code, _) = legacy_alter(&mut b, 0, 4, "0", &[("num.partitions", Some("3"))]);
        assert_eq!(code, 42);
        assert_eq!(b.storage.broker_configs, None, "nothing was written");
    }

    /// `(name, value, source)` of each broker setting DescribeConfigs reports for `resource`.
    fn broker_described(
        b: &mut Driver<MemoryStorage>,
        resource: &str,
    ) -> Vec<(String, Option<String>, i8)> {
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_BROKER,
                resource_name: resource.into(),
                configuration_keys: None,
            }],
            ..Default::default()
        };
        let resp: DescribeConfigsResponse = call(b, 4, &req);
        resp.results[0]
            .configs
            .iter()
            .map(|c| (c.name.clone(), c.value.clone(), c.config_source))
            .collect()
    }

    #[test]
    fn dynamic_broker_settings_are_every_topics_default_below_its_own() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        // Keyed: the topic becomes compacted below, and a compacted topic takes only those.
        let mut batch = BatchBuilder::new(0);
        batch.push(1, Some(b"k"), Some(&[7; 200]), &[]);
        let produce = produce_request("t", 0, batch.finish());
        let code = |b: &mut Driver<MemoryStorage>| {
            let resp: ProduceResponse = call(b, 9, &produce);
            resp.responses[0].partition_responses[0].error_code
        };
        let cluster = [("message.max.bytes", OP_SET, Some("100"))];
        assert_eq!(
            alter(&mut b, vec![incremental(4, "", &cluster)], false),
            vec![ok()]
        );
        assert_eq!(
            described(&mut b, "t", "max.message.bytes"),
            ("100".into(), 3)
        );
        assert_eq!(
            code(&mut b),
            10,
            "MESSAGE_TOO_LARGE under the cluster default"
        );
        let broker_ = [
            ("message.max.bytes", OP_SET, Some("1000")),
            ("log.cleanup.policy", OP_APPEND, Some("compact")),
            ("log.cleaner.threads", OP_SET, Some("2")),
        ];
        assert_eq!(
            alter(&mut b, vec![incremental(4, "0", &broker_)], false),
            vec![ok()]
        );
        assert_eq!(
            described(&mut b, "t", "max.message.bytes"),
            ("1000".into(), 2)
        );
        assert_eq!(
            described(&mut b, "t", "cleanup.policy"),
            ("delete,compact".into(), 2)
        );
        assert_eq!(code(&mut b), 0, "this broker's value comes first");
        let topic = [("max.message.bytes", OP_SET, Some("150"))];
        assert_eq!(
            alter(&mut b, vec![incremental(2, "t", &topic)], false),
            vec![ok()]
        );
        assert_eq!(code(&mut b), 10, "the topic's own value comes first");
    }

    /// Sets `message.max.bytes` for the cluster (100) and this broker (1000), with two more.
    fn set_cluster_and_broker(b: &mut Driver<MemoryStorage>) {
        let cluster = [("message.max.bytes", OP_SET, Some("100"))];
        let broker_ = [
            ("message.max.bytes", OP_SET, Some("1000")),
            ("log.cleanup.policy", OP_APPEND, Some("compact")),
            ("log.cleaner.threads", OP_SET, Some("2")),
        ];
        let resources = vec![incremental(4, "", &cluster), incremental(4, "0", &broker_)];
        assert_eq!(alter(b, resources, false), vec![ok(), ok()]);
    }

    #[test]
    fn broker_settings_are_listed_and_alter_configs_replaces_them() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        set_cluster_and_broker(&mut b);
        // The cluster default lists only what is set there; this broker lists everything.
        assert_eq!(
            broker_described(&mut b, ""),
            vec![("message.max.bytes".into(), Some("100".into()), 3)]
        );
        let all = broker_described(&mut b, "0");
        for expected in [
            ("message.max.bytes", Some("1000"), 2),
            ("log.cleanup.policy", Some("delete,compact"), 2),
            ("log.cleaner.threads", Some("2"), 2),
            ("num.partitions", Some("1"), 5),
        ] {
            let found = all.iter().find(|(n, _, _)| n == expected.0);
            assert_eq!(
                found,
                Some(&(
                    String::from(expected.0),
                    expected.1.map(String::from),
                    expected.2
                ))
            );
        }

        // AlterConfigs replaces this broker's whole set: back to the cluster default.
        assert_eq!(legacy_alter(&mut b, 1, 4, "0", &[]), ok());
        assert_eq!(
            described(&mut b, "t", "cleanup.policy"),
            ("delete".into(), 5)
        );
        let stored = b.storage.broker_configs.clone().expect("written");
        assert_eq!(
            core::str::from_utf8(&stored),
            Ok("version: 0\ncluster.message.max.bytes: 100\n")
        );
    }

    #[test]
    fn dynamic_broker_settings_survive_a_restart_and_drive_retention() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let set = [("log.retention.ms", OP_SET, Some("42"))];
        assert_eq!(
            alter(&mut b, vec![incremental(4, "0", &set)], false),
            vec![ok()]
        );
        let ti = b.topics.by_name("t").expect("topic");
        assert_eq!(b.topic_retention(ti).map(|r| r.ms), Some(42));
        let storage = MemoryStorage {
            broker_configs: b.storage.broker_configs.clone(),
            ..MemoryStorage::default()
        };
        let mut again = driven(b.config().clone(), storage);
        create(&mut again, "u", 1, &[]);
        assert_eq!(described(&mut again, "u", "retention.ms"), ("42".into(), 2));
    }

    #[test]
    fn alter_configs_replaces_the_whole_set() {
        let mut b = broker();
        create(
            &mut b,
            "t",
            1,
            &[("retention.ms", "100"), ("cleanup.policy", "compact")],
        );
        for v in 0..=2 {
            let set = [("max.message.bytes", Some("2000"))];
            assert_eq!(legacy_alter(&mut b, v, 2, "t", &set), ok(), "v{v}");
            assert_eq!(
                described(&mut b, "t", "max.message.bytes"),
                ("2000".into(), 1)
            );
            assert_eq!(
                described(&mut b, "t", "retention.ms").1,
                5,
                "returned to the default"
            );
            assert_eq!(
                described(&mut b, "t", "cleanup.policy"),
                ("delete".into(), 5)
            );
        }
        let (code, message) = legacy_alter(&mut b, 2, 2, "t", &[("retention.ms", None)]);
        assert_eq!(
            (code, message.as_deref()),
            (42, Some("Null value not supported for : retention.ms"))
        );
        assert_eq!(legacy_alter(&mut b, 2, 2, "nope", &[]).0, 3);
    }

    #[test]
    fn a_smaller_max_message_bytes_applies_to_the_next_produce() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let mut batch = BatchBuilder::new(0);
        batch.push(1, None, Some(&[7; 200]), &[]);
        let produce = produce_request("t", 0, batch.finish());
        let code = |b: &mut Driver<MemoryStorage>| {
            let resp: ProduceResponse = call(b, 9, &produce);
            resp.responses[0].partition_responses[0].error_code
        };
        assert_eq!(code(&mut b), 0);
        let set = [("max.message.bytes", OP_SET, Some("100"))];
        assert_eq!(
            alter(&mut b, vec![incremental(2, "t", &set)], false),
            vec![ok()]
        );
        assert_eq!(code(&mut b), 10, "MESSAGE_TOO_LARGE");
    }

    #[test]
    fn configs_survive_a_restart() {
        let mut b = broker();
        create(&mut b, "t", 2, &[]);
        let set = [("retention.ms", OP_SET, Some("42"))];
        assert_eq!(
            alter(&mut b, vec![incremental(2, "t", &set)], false),
            vec![ok()]
        );
        let found = b
            .storage
            .metadata
            .iter()
            .map(|((topic, partition), bytes)| FoundPartition {
                topic: topic.clone(),
                partition: *partition,
                segments: vec![FoundSegment {
                    base_offset: 0,
                    segment: MemorySegment::new(4096),
                    recovery: crate::storage::Recovery::HeadersTrusted,
                }],
                metadata: Some(bytes.clone()),
                transaction_index: None,
            })
            .collect();
        let config = b.config().clone();
        let storage = MemoryStorage {
            found,
            ..MemoryStorage::default()
        };
        let mut again = driven(config, storage);
        assert_eq!(described(&mut again, "t", "retention.ms"), ("42".into(), 1));
    }
}
