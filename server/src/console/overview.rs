//! `GET /api/overview` and `GET /api/config`.

use blazemq_core::codec::messages::{ListGroupsRequest, ListGroupsResponse};

use super::kafka::{self, BROKER_RESOURCE};
use super::{Answer, ConsoleSettings};
use crate::http::Response;
use crate::http::ask::Ask;
use crate::json::Json;

/// The cluster at a glance: its id, brokers, this broker's version, and how many topics,
/// partitions and groups it holds; and when writes are allowed, the token they carry.
pub(super) fn overview(ask: &mut impl Ask, settings: &ConsoleSettings) -> Answer {
    let metadata = kafka::metadata(ask, None)?;
    let groups: ListGroupsResponse = kafka::asked(ask.ask(4, &ListGroupsRequest::default()))?;
    let topics = metadata.topics.iter().filter(|t| t.error_code == 0);
    let partitions: usize = topics.clone().map(|t| t.partitions.len()).sum();
    let mut j = Json::new();
    j.begin_object();
    j.key("cluster_id")
        .opt_string(metadata.cluster_id.as_deref());
    j.key("controller_id").number(metadata.controller_id);
    j.key("version").string(env!("CARGO_PKG_VERSION"));
    j.key("brokers").begin_array();
    for broker in &metadata.brokers {
        j.begin_object();
        j.key("node_id").number(broker.node_id);
        j.key("host").string(&broker.host);
        j.key("port").number(broker.port);
        j.end_object();
    }
    j.end_array();
    j.key("topics").number(topics.count());
    j.key("partitions").number(partitions);
    j.key("groups").number(groups.groups.len());
    j.key("write").bool(settings.write);
    if settings.write {
        j.key("token").string(super::write_token());
    }
    j.end_object();
    Ok(Response::json(200, j.finish()))
}

/// The configs of the broker that answers (its broker resource), with their sources.
pub(super) fn broker_config(ask: &mut impl Ask) -> Answer {
    let metadata = kafka::metadata(ask, Some(&[]))?;
    let broker = metadata
        .brokers
        .first()
        .ok_or_else(|| Response::error(502, "Metadata answered no broker"))?;
    let id = broker.node_id.to_string();
    let mut configs = kafka::configs(ask, BROKER_RESOURCE, &id)?;
    let mut j = Json::new();
    j.begin_object();
    j.key("broker_id").number(broker.node_id);
    j.key("configs");
    kafka::write_configs(&mut j, &mut configs);
    j.end_object();
    Ok(Response::json(200, j.finish()))
}
