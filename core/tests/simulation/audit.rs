//! The audit after every start and at the end: every topic, every partition read whole from its
//! start, every committed offset, through a connection of its own.

use blazemq_core::codec::messages::offset_fetch_request::OffsetFetchRequestTopic;
use blazemq_core::codec::messages::*;

use super::harness::Sim;
use super::model::{Tp, ensure};
use super::responses::{on_metadata, on_offset_fetch};
use super::wire::{self, *};

/// Fetches per partition at most: each moves past at least one batch.
const AUDIT_FETCHES_MAX: usize = 100_000;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

impl Sim {
    pub fn audit(&mut self) -> Result<(), String> {
        self.open_audit();
        self.drain()?;
        let result = self
            .audit_metadata()
            .and_then(|()| self.audit_partitions())
            .and_then(|()| self.audit_commits());
        self.close_audit();
        self.drain()?;
        result.map_err(|e| format!("audit: {e}"))
    }

    fn audit_metadata(&mut self) -> Result<(), String> {
        let body = MetadataRequest {
            topics: None,
            ..Default::default()
        };
        let frame = self.audit_call(&wire::request(METADATA_V, 1, &body))?;
        on_metadata(&frame, &mut self.model)
    }

    fn audit_partitions(&mut self) -> Result<(), String> {
        let mut tps = self.model.known_partitions();
        tps.extend(self.model.partitions_with_state());
        tps.sort();
        tps.dedup();
        for tp in tps {
            self.audit_partition(&tp)?;
        }
        Ok(())
    }

    fn audit_partition(&mut self, tp: &Tp) -> Result<(), String> {
        let mut read = Vec::new();
        let mut offset = 0;
        for _ in 0..AUDIT_FETCHES_MAX {
            let frame = self.audit_call(&wire::request(FETCH_V, 2, &fetch(tp, offset)))?;
            let r: FetchResponse = response(FETCH_V, &frame)?;
            let p = r
                .responses
                .first()
                .and_then(|t| t.partitions.first())
                .ok_or("Fetch answered without the partition")?;
            if p.error_code == UNKNOWN_TOPIC_OR_PARTITION {
                return self.model.vanished(tp);
            }
            ensure!(
                p.error_code == 0,
                "{tp:?} at {offset}: Fetch error {}",
                p.error_code
            );
            let batch = wire::records(&p.records)?;
            let hw = p.high_watermark;
            read.extend(batch.into_iter().filter(|(o, _)| *o >= offset));
            match read.last() {
                Some((last, _)) if last + 1 < hw => offset = last + 1,
                _ => return self.model.audit(tp, &read, hw),
            }
        }
        Err(format!(
            "{tp:?}: not read whole in {AUDIT_FETCHES_MAX} fetches"
        ))
    }

    fn audit_commits(&mut self) -> Result<(), String> {
        for (group, tp) in self.model.commit_keys() {
            let body = OffsetFetchRequest {
                group_id: group.clone(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: tp.0.clone(),
                    partition_indexes: vec![tp.1],
                }]),
                ..Default::default()
            };
            let frame = self.audit_call(&wire::request(OFFSET_FETCH_V, 3, &body))?;
            on_offset_fetch(&frame, &mut self.model, &group, &[tp])?;
        }
        Ok(())
    }
}

fn fetch(tp: &Tp, offset: i64) -> FetchRequest {
    fetch_request(&tp.0, tp.1, offset, 0, 1)
}
