//! `GET /api/topics` and `GET /api/topics/{name}`.

use blazemq_core::codec::messages::metadata_response::MetadataResponseTopic;

use super::Answer;
use super::kafka::{self, EARLIEST, LATEST, PerPartition, TOPIC_RESOURCE};
use crate::http::Response;
use crate::http::ask::Ask;
use crate::json::Json;

/// Log start, end offset and size of every partition asked about.
struct Extents {
    start: PerPartition,
    end: PerPartition,
    size: PerPartition,
}

impl Extents {
    fn of(ask: &mut impl Ask, partitions: &[(String, Vec<i32>)]) -> Result<Extents, Response> {
        Ok(Extents {
            start: kafka::list_offsets(ask, partitions, EARLIEST)?,
            end: kafka::list_offsets(ask, partitions, LATEST)?,
            size: kafka::sizes(ask)?,
        })
    }

    /// (log start, end, size) of one partition; 0 for what the broker did not report.
    fn get(&self, topic: &str, partition: i32) -> (i64, i64, i64) {
        let key = (topic.to_owned(), partition);
        let of = |map: &PerPartition| map.get(&key).copied().unwrap_or(0);
        (of(&self.start), of(&self.end), of(&self.size))
    }
}

/// Every topic, by name: partition count, sums of log start and end offsets, and size.
pub(super) fn list(ask: &mut impl Ask) -> Answer {
    let mut metadata = kafka::metadata(ask, None)?.topics;
    metadata.sort_by(|a, b| a.name.cmp(&b.name));
    let partitions = kafka::partitions_of(&metadata);
    let extents = Extents::of(ask, &partitions)?;
    let mut j = Json::new();
    j.begin_object().key("topics").begin_array();
    for topic in metadata.iter().filter(|t| t.error_code == 0) {
        let Some(name) = topic.name.as_deref() else {
            continue;
        };
        let (mut start, mut end, mut size) = (0, 0, 0);
        for p in &topic.partitions {
            let (s, e, b) = extents.get(name, p.partition_index);
            (start, end, size) = (start + s, end + e, size + b);
        }
        j.begin_object();
        j.key("name").string(name);
        j.key("topic_id").string(&topic.topic_id.to_string());
        j.key("internal").bool(topic.is_internal);
        j.key("partitions").number(topic.partitions.len());
        j.key("log_start_offsets").number(start);
        j.key("end_offsets").number(end);
        j.key("size_bytes").number(size);
        j.end_object();
    }
    j.end_array().end_object();
    Ok(Response::json(200, j.finish()))
}

/// One topic: its partitions with offsets and sizes, and its configs with their sources.
pub(super) fn describe(ask: &mut impl Ask, name: &str) -> Answer {
    let mut topic = kafka::topic(ask, name)?;
    topic.partitions.sort_by_key(|p| p.partition_index);
    let partitions = kafka::partitions_of(std::slice::from_ref(&topic));
    let extents = Extents::of(ask, &partitions)?;
    let mut configs = kafka::configs(ask, TOPIC_RESOURCE, name)?;
    let mut j = Json::new();
    j.begin_object();
    j.key("name").string(name);
    j.key("topic_id").string(&topic.topic_id.to_string());
    j.key("internal").bool(topic.is_internal);
    j.key("partitions");
    write_partitions(&mut j, &topic, &extents);
    j.key("configs");
    kafka::write_configs(&mut j, &mut configs);
    j.end_object();
    Ok(Response::json(200, j.finish()))
}

fn write_partitions(j: &mut Json, topic: &MetadataResponseTopic, extents: &Extents) {
    let name = topic.name.as_deref().unwrap_or_default();
    j.begin_array();
    for p in &topic.partitions {
        let (start, end, size) = extents.get(name, p.partition_index);
        j.begin_object();
        j.key("partition").number(p.partition_index);
        j.key("leader").number(p.leader_id);
        j.key("replicas").begin_array();
        for r in &p.replica_nodes {
            j.number(r);
        }
        j.end_array();
        j.key("isr").begin_array();
        for r in &p.isr_nodes {
            j.number(r);
        }
        j.end_array();
        j.key("log_start_offset").number(start);
        j.key("end_offset").number(end);
        j.key("size_bytes").number(size);
        j.end_object();
    }
    j.end_array();
}
