//! Broker settings that change while the broker runs: Kafka's dynamic broker configs, set with
//! IncrementalAlterConfigs or AlterConfigs on the BROKER resource, for this broker (named by its
//! id) or as the cluster's default (the empty name), written through [`Storage`] before the answer
//! and read back at start.
//!
//! A setting that is a topic config's broker synonym (`log.retention.ms`, `message.max.bytes`,
//! `log.cleanup.policy`, ...) is the value of that config for every topic that does not set it.
//! The broker's static settings are refused, as Kafka refuses them; any other name is kept and
//! reported, as Kafka keeps it, and changes nothing here.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::topic_config;
use crate::storage::{Storage, StorageError};

/// Kafka's `ConfigSource` of a value set for one broker.
pub(super) const SOURCE_DYNAMIC_BROKER: i8 = 2;
/// Kafka's `ConfigSource` of a value set as every broker's default.
pub(super) const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;

/// Settings read once at startup, which Kafka refuses to change while running ("Cannot update
/// these configs dynamically"): the ones BlazeMQ reports and the ones every Kafka broker has.
const STATIC: &[&str] = &[
    "advertised.listeners",
    "auto.create.topics.enable",
    "broker.id",
    "controller.listener.names",
    "controller.quorum.voters",
    "default.replication.factor",
    "group.initial.rebalance.delay.ms",
    "group.max.session.timeout.ms",
    "group.min.session.timeout.ms",
    "listeners",
    "log.dir",
    "log.dirs",
    "log.retention.hours",
    "log.retention.minutes",
    "node.id",
    "num.partitions",
    "process.roles",
];

/// `(name, value)` pairs, in the order they were first set.
pub(super) type Settings = Vec<(String, String)>;

/// Which dynamic layer a BROKER resource names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layer {
    /// This broker (the resource named by its id): DYNAMIC_BROKER_CONFIG.
    Broker,
    /// Every broker (the empty name): DYNAMIC_DEFAULT_BROKER_CONFIG.
    Cluster,
}

impl Layer {
    pub(super) fn source(self) -> i8 {
        match self {
            Layer::Broker => SOURCE_DYNAMIC_BROKER,
            Layer::Cluster => SOURCE_DYNAMIC_DEFAULT_BROKER,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Layer::Broker => "broker.",
            Layer::Cluster => "cluster.",
        }
    }
}

/// The dynamic settings of both layers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct DynamicConfigs {
    broker: Settings,
    cluster: Settings,
}

impl DynamicConfigs {
    /// The settings as stored (see [`DynamicConfigs::to_bytes`]); lines that do not parse are
    /// skipped, as the file is only ever replaced whole.
    pub(super) fn parse(bytes: &[u8]) -> Self {
        let mut configs = DynamicConfigs::default();
        let Ok(text) = core::str::from_utf8(bytes) else {
            return configs;
        };
        for line in text.lines() {
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            for layer in [Layer::Broker, Layer::Cluster] {
                if let Some(name) = key.strip_prefix(layer.prefix()) {
                    configs
                        .layer_mut(layer)
                        .push((String::from(name), String::from(value)));
                }
            }
        }
        configs
    }

    /// `version: 0`, then one `broker.<name>: <value>` or `cluster.<name>: <value>` line per
    /// setting (values never hold a line break: [`check`] refuses them).
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("version: 0\n");
        for layer in [Layer::Broker, Layer::Cluster] {
            for (name, value) in self.layer(layer) {
                out.push_str(&format!("{}{name}: {value}\n", layer.prefix()));
            }
        }
        out.into_bytes()
    }

    /// Read at startup; a file that cannot be read leaves every setting static.
    pub(super) fn load<S: Storage>(storage: &mut S) -> Result<Self, StorageError> {
        Ok(storage
            .read_broker_configs()?
            .map(|bytes| Self::parse(&bytes))
            .unwrap_or_default())
    }

    pub(super) fn layer(&self, layer: Layer) -> &Settings {
        match layer {
            Layer::Broker => &self.broker,
            Layer::Cluster => &self.cluster,
        }
    }

    fn layer_mut(&mut self, layer: Layer) -> &mut Settings {
        match layer {
            Layer::Broker => &mut self.broker,
            Layer::Cluster => &mut self.cluster,
        }
    }

    /// `layer` replaced by `settings`, a copy: the caller stores it before it takes effect.
    pub(super) fn with(&self, layer: Layer, settings: Settings) -> Self {
        let mut next = self.clone();
        *next.layer_mut(layer) = settings;
        next
    }

    /// Every value of the broker setting `name`, most specific first, with its source.
    pub(super) fn values(&self, name: &str) -> impl Iterator<Item = (&str, i8)> {
        [Layer::Broker, Layer::Cluster]
            .into_iter()
            .filter_map(move |layer| {
                self.layer(layer)
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| (v.as_str(), layer.source()))
            })
    }

    /// The value a dynamic setting gives the topic config `topic_config` of a topic that does not
    /// set it, with its source.
    pub(super) fn topic_default(&self, topic_config: &str) -> Option<(&str, i8)> {
        let broker_name = topic_config::broker_setting(topic_config)?;
        self.values(broker_name).next()
    }
}

/// The names among `names` that cannot change while the broker runs.
pub(super) fn static_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    names.filter(|n| STATIC.contains(n)).collect()
}

/// Whether `name` may change while the broker runs.
pub(super) fn is_dynamic(name: &str) -> bool {
    !STATIC.contains(&name)
}

/// Check a value for the broker setting `name`: a topic config's synonym must hold what that
/// config may hold; no value may hold a line break. The error text is Kafka's.
pub(super) fn check(name: &str, value: &str) -> Result<(), String> {
    let invalid = || format!("Invalid value {value} for configuration {name}");
    if value.contains(['\n', '\r']) {
        return Err(invalid());
    }
    match topic_config::topic_config_of(name) {
        Some(topic_name) => topic_config::validate(topic_name, Some(value)).map_err(|_| invalid()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|&(k, v)| (String::from(k), String::from(v)))
            .collect()
    }

    #[test]
    fn stored_settings_read_back_the_same() {
        let configs = DynamicConfigs::default()
            .with(
                Layer::Broker,
                settings(&[("log.retention.ms", "5000"), ("x.y", "a: b")]),
            )
            .with(Layer::Cluster, settings(&[("message.max.bytes", "2000")]));
        assert_eq!(DynamicConfigs::parse(&configs.to_bytes()), configs);
        assert_eq!(DynamicConfigs::parse(b"\xff"), DynamicConfigs::default());
    }

    #[test]
    fn this_broker_comes_before_the_cluster_default() {
        let configs = DynamicConfigs::default()
            .with(Layer::Cluster, settings(&[("log.retention.ms", "1")]))
            .with(Layer::Broker, settings(&[("log.retention.ms", "2")]));
        let values: Vec<_> = configs.values("log.retention.ms").collect();
        assert_eq!(
            values,
            vec![
                ("2", SOURCE_DYNAMIC_BROKER),
                ("1", SOURCE_DYNAMIC_DEFAULT_BROKER)
            ]
        );
        assert_eq!(
            configs.topic_default("retention.ms"),
            Some(("2", SOURCE_DYNAMIC_BROKER))
        );
        assert_eq!(configs.topic_default("max.message.bytes"), None);
    }

    #[test]
    fn values_are_checked_as_their_topic_configs_are() {
        assert!(check("log.retention.ms", "5000").is_ok());
        assert!(check("log.cleanup.policy", "compact,delete").is_ok());
        assert!(
            check("log.cleaner.threads", "2").is_ok(),
            "kept, not checked"
        );
        assert_eq!(
            check("log.retention.ms", "abc"),
            Err(String::from(
                "Invalid value abc for configuration log.retention.ms"
            ))
        );
        assert!(check("log.cleanup.policy", "forever").is_err());
        assert!(check("anything", "two\nlines").is_err());
        assert_eq!(
            static_names(["num.partitions", "log.retention.ms", "broker.id"].into_iter()),
            vec!["num.partitions", "broker.id"]
        );
    }
}
