//! The topics this broker holds, their partitions' logs, and the metadata file each partition
//! keeps beside its segments (topic id and topic configs), so a restart finds them again.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::codec::primitives::Uuid;
use crate::hex::{hex16, parse_hex16};
use crate::log::LogError;
use crate::log::PartitionLog;
use crate::log::{CheckpointWriter, RecoveryCheckpoint};
use crate::storage::{FoundPartition, SegmentBuffer, Storage, StorageError, StorageErrorKind};

use super::producers::Producers;
use super::topic_config;
use super::topic_settings::TopicSettings;
use super::txn_partitions::PartitionTxns;

/// One topic: its name, id, partitions (indices into [`Topics::partition`]), the configs it
/// sets, and what they and the broker's defaults come to.
#[derive(Debug)]
pub(crate) struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<u32>,
    /// As CreateTopics or AlterConfigs set them: what DescribeConfigs reports and the metadata
    /// file keeps.
    pub configs: Vec<(String, String)>,
    /// `configs` over the broker's defaults, typed: what appends, retention and the cleaner
    /// read. Kept in step by [`Topics`] (and [`Topics::set_defaults`]).
    pub settings: TopicSettings,
}

/// One partition of a topic: its log, its transactions, and its place (for the storage calls
/// that name it).
#[derive(Debug)]
pub(crate) struct Partition<T> {
    pub log: PartitionLog<T>,
    /// Open and aborted transactions (empty, allocating nothing, without any).
    pub txns: PartitionTxns,
    /// The topic's index: a partition lives exactly as long as its topic.
    pub topic: u32,
    /// The partition's number within the topic.
    pub index: i32,
}

/// Every topic and partition, by name and by id.
#[derive(Debug)]
pub(crate) struct Topics<T> {
    /// Topics by index; a deleted topic leaves a slot that the next new topic takes.
    topics: Vec<Option<Topic>>,
    free_topics: Vec<u32>,
    by_name: BTreeMap<String, u32>,
    /// Topics by name with '.' read as '_' (see [`super::names::metric_name`]), so a new name is
    /// checked for a clash without a look at every topic.
    by_metric_name: BTreeMap<String, u32>,
    by_id: BTreeMap<[u8; 16], u32>,
    /// Partitions by index. A deleted partition's slot is never reused: responses in flight name
    /// partitions by index, and must not read another partition's bytes.
    partitions: Vec<Option<Box<Partition<T>>>>,
    /// Counts changes of topics and their configs, for caches of what they imply.
    changes: u64,
}

/// The partition metadata file: `key: value` lines, one topic config per `config.` line.
fn metadata_bytes(id: &Uuid, configs: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("version: 0\ntopic_id: {}\n", hex16(&id.0));
    for (k, v) in configs {
        out.push_str(&format!("config.{k}: {v}\n"));
    }
    out.into_bytes()
}

/// A topic's configs as `(name, value)` pairs.
type Configs = Vec<(String, String)>;

/// What a partition metadata file says: the topic id and configs, if the file is readable.
fn parse_metadata(bytes: &[u8]) -> Option<([u8; 16], Configs)> {
    let text = core::str::from_utf8(bytes).ok()?;
    let mut id = None;
    let mut configs = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        if key == "topic_id" {
            id = parse_hex16(value);
        } else if let Some(name) = key.strip_prefix("config.") {
            configs.push((name.to_string(), value.to_string()));
        }
    }
    Some((id?, configs))
}

impl<T: SegmentBuffer> Topics<T> {
    pub(crate) fn new() -> Self {
        Topics {
            topics: Vec::new(),
            free_topics: Vec::new(),
            by_name: BTreeMap::new(),
            by_metric_name: BTreeMap::new(),
            by_id: BTreeMap::new(),
            partitions: Vec::new(),
            changes: 0,
        }
    }

    /// A number that changes whenever a topic is created or deleted, gains partitions or has its
    /// configs changed.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Live topics, in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Topic)> {
        self.by_name.values().map(|&i| (i, self.topic(i)))
    }

    /// A live topic; `idx` comes from [`Topics::by_name`] or [`Topics::by_id`].
    pub(crate) fn topic(&self, idx: u32) -> &Topic {
        self.topics[idx as usize]
            .as_ref()
            .expect("topic indices from the name and id maps are live")
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn by_id(&self, id: &Uuid) -> Option<u32> {
        self.by_id.get(&id.0).copied()
    }

    /// The partition index (into [`Topics::partition`]) of `topic`'s partition `p`.
    pub(crate) fn partition_of(&self, topic: u32, p: i32) -> Option<u32> {
        let t = self.topics.get(topic as usize)?.as_ref()?;
        usize::try_from(p)
            .ok()
            .and_then(|p| t.partitions.get(p))
            .copied()
    }

    pub(crate) fn partition(&self, idx: u32) -> Option<&Partition<T>> {
        self.partitions.get(idx as usize)?.as_deref()
    }

    pub(crate) fn partition_mut(&mut self, idx: u32) -> Option<&mut Partition<T>> {
        self.partitions.get_mut(idx as usize)?.as_deref_mut()
    }

    pub(crate) fn partitions_mut(&mut self) -> impl Iterator<Item = &mut Partition<T>> {
        self.partitions.iter_mut().filter_map(|p| p.as_deref_mut())
    }

    /// Remove a topic and its partitions' directories. Its partition indices are not reused.
    pub(crate) fn delete<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        idx: u32,
    ) -> Result<(), StorageError> {
        let Some(topic) = self.topics.get_mut(idx as usize).and_then(Option::take) else {
            return Ok(());
        };
        self.changes += 1;
        self.by_name.remove(&topic.name);
        let metric_name = super::names::metric_name(&topic.name);
        if self.by_metric_name.get(&metric_name) == Some(&idx) {
            self.by_metric_name.remove(&metric_name);
        }
        self.by_id.remove(&topic.id.0);
        self.free_topics.push(idx);
        let mut result = Ok(());
        // Highest partition first: a crash part-way leaves partitions 0..k, a smaller topic,
        // never one with holes.
        for (p, &pi) in topic.partitions.iter().enumerate().rev() {
            // Dropping the log unmaps its segments before their files go.
            if let Some(slot) = self.partitions.get_mut(pi as usize) {
                *slot = None;
            }
            if let Err(e) = storage.delete_partition(&topic.name, p as i32) {
                result = Err(e);
            }
        }
        result
    }

    /// Whether a topic other than `name` has a name that clashes with it.
    pub(crate) fn collision(&self, name: &str) -> Option<&str> {
        let idx = *self.by_metric_name.get(&super::names::metric_name(name))?;
        let other = self.topics.get(idx as usize)?.as_ref()?.name.as_str();
        (other != name).then_some(other)
    }

    /// Create a topic with `n` empty partitions, writing each partition's metadata file.
    pub(crate) fn create<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        name: &str,
        id: Uuid,
        n: i32,
        configs: Vec<(String, String)>,
        defaults: &TopicSettings,
    ) -> Result<u32, StorageError> {
        let meta = metadata_bytes(&id, &configs);
        let settings = defaults.with(&configs);
        let mut logs = Vec::new();
        for p in 0..n {
            let made = storage
                .create_segment(name, p, 0, settings.segment_bytes)
                .and_then(|seg| storage.write_metadata(name, p, &meta).map(|()| seg))
                .and_then(|seg| closed_log(storage, seg));
            match made {
                Ok(log) => logs.push((log, PartitionTxns::default())),
                Err(e) => {
                    for q in 0..=p {
                        let _ = storage.delete_partition(name, q);
                    }
                    return Err(e);
                }
            }
        }
        Ok(self.insert(name.to_string(), id, configs, settings, logs))
    }

    /// Grow `topic` to `count` partitions, the new ones empty, each with its metadata file.
    /// On a storage error the partitions made so far are removed and the topic is unchanged.
    pub(crate) fn add_partitions<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        topic: u32,
        count: i32,
    ) -> Result<(), StorageError> {
        self.changes += 1;
        let t = self.topic(topic);
        let (name, first) = (t.name.clone(), t.partitions.len() as i32);
        let segment_size_bytes = t.settings.segment_bytes;
        let meta = metadata_bytes(&t.id, &t.configs);
        let mut logs = Vec::new();
        // Lowest first: a crash part-way leaves partitions first..k, never a topic with holes.
        for p in first..count {
            let made = storage
                .create_segment(&name, p, 0, segment_size_bytes)
                .and_then(|seg| storage.write_metadata(&name, p, &meta).map(|()| seg))
                .and_then(|seg| closed_log(storage, seg));
            match made {
                Ok(log) => logs.push(log),
                Err(e) => {
                    for q in (first..=p).rev() {
                        let _ = storage.delete_partition(&name, q);
                    }
                    return Err(e);
                }
            }
        }
        for (log, index) in logs.into_iter().zip(first..) {
            let idx = self.partitions.len() as u32;
            self.partitions.push(Some(Box::new(Partition {
                log,
                txns: PartitionTxns::default(),
                topic,
                index,
            })));
            if let Some(Some(t)) = self.topics.get_mut(topic as usize) {
                t.partitions.push(idx);
            }
        }
        Ok(())
    }

    /// Replace `topic`'s configs, in every partition's metadata file and then in memory.
    ///
    /// Partition 0's file is written last: it is the one a restart believes (see
    /// [`Topics::load`]), so a crash part-way leaves the old configs, and a finished write the new.
    pub(crate) fn set_configs<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        topic: u32,
        configs: Configs,
        defaults: &TopicSettings,
    ) -> Result<(), StorageError> {
        self.changes += 1;
        let t = self.topic(topic);
        let meta = metadata_bytes(&t.id, &configs);
        for p in (0..t.partitions.len() as i32).rev() {
            storage.write_metadata(&t.name, p, &meta)?;
        }
        if let Some(Some(t)) = self.topics.get_mut(topic as usize) {
            t.settings = defaults.with(&configs);
            t.configs = configs;
        }
        Ok(())
    }

    /// The broker's defaults changed: every topic's settings follow.
    pub(crate) fn set_defaults(&mut self, defaults: &TopicSettings) {
        self.changes += 1;
        for t in self.topics.iter_mut().flatten() {
            t.settings = defaults.with(&t.configs);
        }
    }

    fn insert(
        &mut self,
        name: String,
        id: Uuid,
        configs: Vec<(String, String)>,
        settings: TopicSettings,
        logs: Vec<(PartitionLog<T>, PartitionTxns)>,
    ) -> u32 {
        self.changes += 1;
        let topic = match self.free_topics.pop() {
            Some(free) => free,
            None => {
                self.topics.push(None);
                (self.topics.len() - 1) as u32
            }
        };
        let mut partitions = Vec::with_capacity(logs.len());
        for ((log, txns), index) in logs.into_iter().zip(0..) {
            partitions.push(self.partitions.len() as u32);
            self.partitions.push(Some(Box::new(Partition {
                log,
                txns,
                topic,
                index,
            })));
        }
        self.topics[topic as usize] = Some(Topic {
            name: name.clone(),
            id,
            partitions,
            configs,
            settings,
        });
        self.by_metric_name
            .insert(super::names::metric_name(&name), topic);
        self.by_name.insert(name, topic);
        self.by_id.insert(id.0, topic);
        topic
    }

    /// The recovery checkpoint of every partition's segments and `producers` as they are now.
    pub(crate) fn recovery_checkpoint(&self, producers: &Producers) -> Vec<u8> {
        let mut writer = CheckpointWriter::default();
        for (_, topic) in self.iter() {
            for (p, &pi) in topic.partitions.iter().enumerate() {
                if let (Some(part), Ok(p)) = (self.partition(pi), i32::try_from(p)) {
                    writer.partition(&topic.name, &topic.id.0, p, &part.log);
                    for entry in producers.snapshot(pi) {
                        writer.producer(&topic.name, &topic.id.0, p, &entry);
                    }
                }
            }
        }
        writer.finish()
    }

    /// Rebuild the topics from what the runtime found on disk, trusting the segment bytes that
    /// `checkpoint` vouches for. A partition whose segments cannot be recovered is an error; a
    /// missing partition in the middle of a topic is recreated empty.
    pub(crate) fn load<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        found: Vec<FoundPartition<T>>,
        checkpoint: &RecoveryCheckpoint,
        new_id: &mut dyn FnMut() -> Uuid,
        defaults: &TopicSettings,
    ) -> Result<(), StorageError> {
        let mut by_topic: BTreeMap<String, Vec<FoundPartition<T>>> = BTreeMap::new();
        for f in found {
            by_topic.entry(f.topic.clone()).or_default().push(f);
        }
        for (name, mut parts) in by_topic {
            parts.sort_by_key(|p| p.partition);
            // The lowest partition with a readable file speaks for the topic (partition 0 unless
            // its file is lost): `set_configs` writes it last.
            let known = parts
                .iter()
                .find_map(|p| p.metadata.as_deref().and_then(parse_metadata));
            let (id, mut configs) = match known {
                Some((id, configs)) => (Uuid(id), configs),
                None => (new_id(), Vec::new()),
            };
            // A value no AlterConfigs would take (a file edited by hand) is dropped, so what
            // DescribeConfigs reports is what the broker does: the default.
            configs.retain(|(k, v)| topic_config::validate(k, Some(v)).is_ok());
            let settings = defaults.with(&configs);
            let meta = metadata_bytes(&id, &configs);
            let count = parts.last().map_or(0, |p| p.partition + 1);
            let mut logs = Vec::new();
            let mut parts = parts.into_iter().peekable();
            for p in 0..count {
                // A directory without segments is a partition whose creation was cut short
                // (a crash between the directory and its first segment): it is recreated empty.
                let found = parts
                    .next_if(|f| f.partition == p)
                    .filter(|f| !f.segments.is_empty());
                let log = match found {
                    Some(mut f) => {
                        checkpoint.apply(&name, &id.0, p, &mut f.segments);
                        // A file that disagrees is one a config change did not finish: made
                        // the same as the others again.
                        if f.metadata.as_deref() != Some(meta.as_slice()) {
                            storage.write_metadata(&name, p, &meta)?;
                        }
                        let log = PartitionLog::open(f.segments, storage).map_err(|e| match e {
                            LogError::Storage(e) => e,
                            e => StorageError::new(
                                StorageErrorKind::Corrupt,
                                format!("recovering {name}-{p}: {e:?}"),
                            ),
                        })?;
                        let txns = match f.transaction_index {
                            Some(bytes) => recover_txns(storage, &name, p, &bytes, &log),
                            None => PartitionTxns::default(),
                        };
                        (log, txns)
                    }
                    None => {
                        let seg = storage.create_segment(&name, p, 0, settings.segment_bytes)?;
                        storage.write_metadata(&name, p, &meta)?;
                        (closed_log(storage, seg)?, PartitionTxns::default())
                    }
                };
                logs.push(log);
            }
            self.insert(name, id, configs, settings, logs);
        }
        Ok(())
    }
}

/// A partition's transactions from its transaction index, for its recovered `log`. A file
/// that needed mending (a torn tail, offsets a power loss took) is rewritten now; if that fails
/// the first write replaces it.
fn recover_txns<S: Storage>(
    storage: &mut S,
    name: &str,
    p: i32,
    bytes: &[u8],
    log: &PartitionLog<S::Segment>,
) -> PartitionTxns {
    let (mut txns, mend) = PartitionTxns::recover(bytes, log.log_end_offset());
    if mend
        && storage
            .write_transaction_index(name, p, &txns.encode())
            .is_ok()
    {
        txns.replaced();
    }
    txns
}

/// A new partition's log over its new, empty `segment`, closed: a partition holds no file open
/// until it is written or read, so creating ten thousand opens none at once.
fn closed_log<S: Storage>(
    storage: &mut S,
    segment: S::Segment,
) -> Result<PartitionLog<S::Segment>, StorageError> {
    let mut log = PartitionLog::new(segment, 0);
    log.close_all(storage)?;
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemorySegment;

    #[test]
    fn a_partition_directory_without_segments_is_recreated_empty() {
        let mut storage = crate::storage::MemoryStorage::default();
        let found = alloc::vec![
            FoundPartition {
                topic: String::from("t"),
                partition: 0,
                segments: Vec::new(),
                metadata: None,
                transaction_index: None,
            },
            FoundPartition {
                topic: String::from("t"),
                partition: 1,
                segments: Vec::new(),
                metadata: Some(metadata_bytes(&Uuid([3; 16]), &[])),
                transaction_index: None,
            },
        ];
        let mut topics: Topics<MemorySegment> = Topics::new();
        topics
            .load(
                &mut storage,
                found,
                &RecoveryCheckpoint::default(),
                &mut || Uuid([9; 16]),
                &small_segments(),
            )
            .expect("loads");
        let topic = topics.by_name.get("t").copied().expect("topic kept");
        let topic = topics.topics[topic as usize].as_ref().expect("slot");
        assert_eq!(topic.partitions.len(), 2);
        assert_eq!(topic.id, Uuid([3; 16]), "the id another partition recorded");
        assert!(storage.metadata.contains_key(&(String::from("t"), 0)));
    }

    /// The settings of topics that set nothing, with 4 KiB segments.
    fn small_segments() -> TopicSettings {
        let config = crate::broker::BrokerConfig {
            segment_size_bytes: 4096,
            ..crate::broker::BrokerConfig::default()
        };
        TopicSettings::defaults(
            &config,
            &super::super::dynamic_configs::DynamicConfigs::default(),
        )
    }

    /// Topic `t` (id 5s) with `n` partitions and `configs`, over small segments; its index.
    fn created(
        storage: &mut crate::storage::MemoryStorage,
        n: i32,
        configs: Vec<(String, String)>,
    ) -> (Topics<MemorySegment>, u32) {
        let mut topics = Topics::new();
        let t = topics
            .create(storage, "t", Uuid([5; 16]), n, configs, &small_segments())
            .expect("created");
        (topics, t)
    }

    /// The topics a restart finds in `storage`.
    fn reload(storage: &mut crate::storage::MemoryStorage) -> Topics<MemorySegment> {
        let found = found(storage);
        let mut again = Topics::new();
        again
            .load(
                storage,
                found,
                &RecoveryCheckpoint::default(),
                &mut || Uuid([9; 16]),
                &small_segments(),
            )
            .expect("loads");
        again
    }

    fn found(storage: &crate::storage::MemoryStorage) -> Vec<FoundPartition<MemorySegment>> {
        storage
            .metadata
            .iter()
            .map(|((topic, partition), bytes)| FoundPartition {
                topic: topic.clone(),
                partition: *partition,
                segments: alloc::vec![crate::storage::FoundSegment {
                    base_offset: 0,
                    segment: MemorySegment::new(4096),
                    recovery: crate::storage::Recovery::HeadersTrusted,
                }],
                metadata: Some(bytes.clone()),
                transaction_index: None,
            })
            .collect()
    }

    #[test]
    fn added_partitions_and_new_configs_are_found_again() {
        let mut storage = crate::storage::MemoryStorage::default();
        let (mut topics, t) = created(&mut storage, 1, Vec::new());
        topics.add_partitions(&mut storage, t, 3).expect("grown");
        assert_eq!(topics.topic(t).partitions.len(), 3);
        let configs = alloc::vec![(String::from("retention.ms"), String::from("5"))];
        topics
            .set_configs(&mut storage, t, configs.clone(), &small_segments())
            .expect("set");
        let again = reload(&mut storage);
        let t = again.by_name("t").expect("topic kept");
        assert_eq!(again.topic(t).partitions.len(), 3);
        assert_eq!(again.topic(t).id, Uuid([5; 16]));
        assert_eq!(again.topic(t).configs, configs);
        assert_eq!(again.topic(t).settings.retention_ms, 5);
    }

    #[test]
    fn a_config_value_no_alter_would_take_is_dropped_at_startup() {
        let mut storage = crate::storage::MemoryStorage::default();
        created(&mut storage, 1, Vec::new());
        let edited = [
            (String::from("retention.ms"), String::from("soon")),
            (String::from("segment.ms"), String::from("60000")),
        ];
        storage.metadata.insert(
            (String::from("t"), 0),
            metadata_bytes(&Uuid([5; 16]), &edited),
        );
        let again = reload(&mut storage);
        let t = again.topic(again.by_name("t").expect("topic kept"));
        assert_eq!(t.configs, edited[1..]);
        assert_eq!(t.settings.retention_ms, small_segments().retention_ms);
        assert_eq!(t.settings.segment_ms, 60_000);
    }

    #[test]
    fn a_config_change_cut_short_is_undone_at_startup() {
        let mut storage = crate::storage::MemoryStorage::default();
        let old = alloc::vec![(String::from("retention.ms"), String::from("1"))];
        created(&mut storage, 2, old.clone());
        // A crash after partition 1's file was replaced, before partition 0's.
        let new = [(String::from("retention.ms"), String::from("2"))];
        let key = (String::from("t"), 1);
        storage
            .metadata
            .insert(key.clone(), metadata_bytes(&Uuid([5; 16]), &new));
        let again = reload(&mut storage);
        let t = again.by_name("t").expect("topic kept");
        assert_eq!(again.topic(t).configs, old);
        assert_eq!(storage.metadata[&key], metadata_bytes(&Uuid([5; 16]), &old));
    }

    #[test]
    fn metadata_file_round_trips() {
        let id = Uuid([7; 16]);
        let configs = alloc::vec![(String::from("retention.ms"), String::from("1000"))];
        let bytes = metadata_bytes(&id, &configs);
        let (back, cfg) = parse_metadata(&bytes).expect("parses");
        assert_eq!(back, [7; 16]);
        assert_eq!(cfg, configs);
        assert!(parse_metadata(b"garbage").is_none());
        assert!(parse_metadata(b"topic_id: zz\n").is_none());
    }
}
