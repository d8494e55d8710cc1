//! InitProducerId (KIP-98, KIP-360): idempotent producers here, transactional ones in
//! `transactions.rs`.

use super::{Broker, Hdr, Reply};
use crate::codec::Message;
use crate::codec::messages::{InitProducerIdRequest, InitProducerIdResponse};
use crate::storage::Storage;

impl<S: Storage> Broker<S> {
    pub(super) fn init_producer_id(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = InitProducerIdRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let response = if let Some(id) = &request.transactional_id {
            self.init_transactional(hdr.api_version, &request, id)
        } else if hdr.api_version >= 3 && request.producer_id >= 0 && request.producer_epoch >= 0 {
            // KIP-360: a producer that knows its id asks for the next epoch instead of a new id.
            let (producer_id, producer_epoch) = match request.producer_epoch.checked_add(1) {
                Some(epoch) if epoch < i16::MAX => (request.producer_id, epoch),
                _ => (self.next_producer_id(), 0),
            };
            InitProducerIdResponse {
                producer_id,
                producer_epoch,
                ..Default::default()
            }
        } else {
            InitProducerIdResponse {
                producer_id: self.next_producer_id(),
                producer_epoch: 0,
                ..Default::default()
            }
        };
        self.respond(hdr, &response)
    }

    /// Producer ids start from the wall clock at startup, so ids handed out before a restart
    /// are not handed out again after it.
    pub(super) fn next_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }
}
