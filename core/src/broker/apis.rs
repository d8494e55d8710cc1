//! The one table of the APIs the broker answers: ApiVersions advertises the versions of its rows
//! and dispatch calls their handlers, so no API can be advertised and then not served.

use super::{Broker, ConnId, Hdr, Reply, api_versions};
use crate::codec::ApiKey;
use crate::storage::Storage;

/// One request, as every handler receives it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    /// The connection it came on.
    pub conn: ConnId,
    /// Its header's api key, version and correlation id.
    pub hdr: Hdr,
    /// Its header's client id (header v1 and later), which JoinGroup keeps for DescribeGroups.
    pub client_id: Option<&'a str>,
    /// The body after the header.
    pub body: &'a [u8],
}

/// A handler: a plain function pointer, so dispatch neither allocates nor boxes.
pub(crate) type Handler<S> = fn(&mut Broker<S>, Request<'_>) -> Reply;

/// A row of the table: an API, the versions the broker answers, and the handler that does.
pub(crate) struct Api<S: Storage> {
    pub key: ApiKey,
    pub min_version: i16,
    pub max_version: i16,
    pub handle: Handler<S>,
}

/// A handler that calls the broker's method `name(hdr, body)`, the shape most handlers have, or
/// with `conn`, `name(conn, hdr, body)` for those that answer later on the connection.
macro_rules! method {
    ($name:ident) => {
        |b, r| b.$name(r.hdr, r.body)
    };
    (conn $name:ident) => {
        |b, r| b.$name(r.conn, r.hdr, r.body)
    };
}

/// Every API the broker answers, sorted by key as Kafka lists them in ApiVersions.
///
/// A const block rather than a `const` item, which cannot be generic, or an associated const,
/// whose `&'static` table of handlers over `S` would need `S: 'static`. It is built at compile
/// time all the same, and checked there wherever a broker is built over a storage (the server,
/// the tests): keys strictly increasing (the lookup searches by halves), versions within the
/// spec's.
#[rustfmt::skip]
pub(super) fn apis<'t, S: Storage + 't>() -> &'t [Api<S>] {
    const { &checked([
        row(ApiKey::Produce,                     0, 11, method!(produce)),
        row(ApiKey::Fetch,                       0, 17, method!(conn fetch)),
        row(ApiKey::ListOffsets,                 0, 10, method!(list_offsets)),
        row(ApiKey::Metadata,                    0, 12, method!(metadata)),
        row(ApiKey::OffsetCommit,                0, 9,  method!(offset_commit)),
        row(ApiKey::OffsetFetch,                 0, 9,  method!(offset_fetch)),
        row(ApiKey::FindCoordinator,             0, 6,  method!(find_coordinator)),
        row(ApiKey::JoinGroup,                   0, 9,  join_group),
        row(ApiKey::Heartbeat,                   0, 4,  method!(heartbeat)),
        row(ApiKey::LeaveGroup,                  0, 5,  method!(leave_group)),
        row(ApiKey::SyncGroup,                   0, 5,  method!(conn sync_group)),
        row(ApiKey::DescribeGroups,              0, 5,  method!(describe_groups)),
        row(ApiKey::ListGroups,                  0, 5,  method!(list_groups)),
        row(ApiKey::ApiVersions,                 0, 4,  api_versions::handle),
        row(ApiKey::CreateTopics,                0, 7,  create_topics),
        row(ApiKey::DeleteTopics,                0, 6,  method!(delete_topics)),
        row(ApiKey::DeleteRecords,               0, 2,  method!(delete_records)),
        row(ApiKey::InitProducerId,              0, 5,  method!(init_producer_id)),
        row(ApiKey::AddPartitionsToTxn,          0, 5,  method!(add_partitions_to_txn)),
        row(ApiKey::AddOffsetsToTxn,             0, 4,  method!(add_offsets_to_txn)),
        // v5 bumps the epoch at every end (KIP-890 part 2), which the spec marks unstable.
        row(ApiKey::EndTxn,                      0, 4,  method!(end_txn)),
        row(ApiKey::TxnOffsetCommit,             0, 4,  method!(txn_offset_commit)),
        row(ApiKey::DescribeConfigs,             0, 4,  method!(describe_configs)),
        row(ApiKey::AlterConfigs,                0, 2,  alter_configs),
        row(ApiKey::DescribeLogDirs,             0, 4,  method!(describe_log_dirs)),
        row(ApiKey::CreatePartitions,            0, 3,  method!(create_partitions)),
        row(ApiKey::DeleteGroups,                0, 2,  method!(delete_groups)),
        row(ApiKey::ElectLeaders,                0, 2,  method!(elect_leaders)),
        row(ApiKey::IncrementalAlterConfigs,     0, 1,  incremental_alter_configs),
        row(ApiKey::AlterPartitionReassignments, 0, 0,  method!(alter_partition_reassignments)),
        row(ApiKey::ListPartitionReassignments,  0, 0,  method!(list_partition_reassignments)),
        row(ApiKey::OffsetDelete,                0, 0,  method!(offset_delete)),
        row(ApiKey::DescribeCluster,             0, 1,  method!(describe_cluster)),
        row(ApiKey::DescribeProducers,           0, 0,  method!(describe_producers)),
        row(ApiKey::DescribeTransactions,        0, 0,  method!(describe_transactions)),
        row(ApiKey::ListTransactions,            0, 1,  method!(list_transactions)),
    ]) }
}

/// The row that answers `key` at `version`, or `None`: Kafka cannot parse such a request.
pub(super) fn find<'t, S: Storage + 't>(key: ApiKey, version: i16) -> Option<&'t Api<S>> {
    let apis = apis::<S>();
    let i = apis
        .binary_search_by_key(&key.code(), |api| api.key.code())
        .ok()?;
    let api = &apis[i];
    (api.min_version..=api.max_version)
        .contains(&version)
        .then_some(api)
}

fn join_group<S: Storage>(b: &mut Broker<S>, r: Request<'_>) -> Reply {
    let client_id = r.client_id.unwrap_or_default().into();
    b.join_group(r.conn, r.hdr, client_id, r.body)
}

fn create_topics<S: Storage>(b: &mut Broker<S>, r: Request<'_>) -> Reply {
    // The client id names the request in the log's events of topics created in later turns.
    b.create_topics(r.conn, r.hdr, r.client_id, r.body)
}

fn alter_configs<S: Storage>(b: &mut Broker<S>, r: Request<'_>) -> Reply {
    // A topic's retention may change: every partition is checked after this request.
    b.retention.dirty = true;
    b.alter_configs(r.hdr, r.body)
}

fn incremental_alter_configs<S: Storage>(b: &mut Broker<S>, r: Request<'_>) -> Reply {
    // As in AlterConfigs.
    b.retention.dirty = true;
    b.incremental_alter_configs(r.hdr, r.body)
}

const fn row<S: Storage>(key: ApiKey, min: i16, max: i16, handle: Handler<S>) -> Api<S> {
    Api {
        key,
        min_version: min,
        max_version: max,
        handle,
    }
}

/// `apis`, once [`well_formed`]: a table that is not fails the build.
const fn checked<S: Storage, const N: usize>(apis: [Api<S>; N]) -> [Api<S>; N] {
    assert!(
        well_formed(&apis),
        "the API table is sorted, unique and within the spec"
    );
    apis
}

/// Keys strictly increasing, each row's versions a non-empty range the spec defines.
const fn well_formed<S: Storage>(apis: &[Api<S>]) -> bool {
    let mut i = 0;
    while i < apis.len() {
        let api = &apis[i];
        if i > 0 && apis[i - 1].key.code() >= api.key.code() {
            return false;
        }
        let Some((spec_min, spec_max)) = api.key.versions() else {
            return false;
        };
        if api.min_version < spec_min || api.max_version > spec_max {
            return false;
        }
        if api.min_version > api.max_version {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    use super::*;
    use crate::broker::harness::{CONN, broker, request, response_to};
    use crate::codec::Message;
    use crate::storage::MemoryStorage;

    type S = MemoryStorage;

    /// A request of `key` with every field at its default, as a whole frame at `version`.
    fn default_request(key: ApiKey, version: i16, correlation_id: i32) -> Option<Vec<u8>> {
        let mut frame = None;
        macro_rules! request_of_key {
            ($module:ident, $ty:path) => {
                if stringify!($module).ends_with("_request") && <$ty>::API_KEY == key.code() {
                    frame = Some(request(version, correlation_id, &<$ty>::default()));
                }
            };
        }
        crate::for_each_message!(request_of_key);
        frame
    }

    /// Decodes `frame` as the answer of `key` at `version` to request `correlation_id`.
    fn decode_response(
        key: ApiKey,
        version: i16,
        correlation_id: i32,
        frame: &[u8],
    ) -> Result<(), String> {
        let mut decoded = Err(format!("no response type for {key:?}"));
        macro_rules! response_of_key {
            ($module:ident, $ty:path) => {
                if stringify!($module).ends_with("_response") && <$ty>::API_KEY == key.code() {
                    decoded = response_to::<$ty>(version, correlation_id, frame).map(|_| ());
                }
            };
        }
        crate::for_each_message!(response_of_key);
        decoded
    }

    /// Every row's handler answers its own API at every version the table advertises: a request
    /// with default fields gets a response of that API and version, never the closed connection
    /// of a request no row serves (nor of a handler that cannot read its own API's request).
    #[test]
    fn every_row_answers_every_advertised_version() {
        let mut b = broker();
        for api in apis::<S>() {
            for version in api.min_version..=api.max_version {
                let id = b.next_correlation_id();
                let frame = default_request(api.key, version, id).expect("a request type");
                b.feed(CONN, &frame);
                let drained = b.drain().expect("no livelock");
                let what = format!("{:?} v{version}", api.key);
                assert!(drained.closed.is_empty(), "{what} closed the connection");
                if api.key == ApiKey::Produce {
                    // The default acks is 0: Kafka sends no response at all.
                    assert!(drained.sent.is_empty(), "{what} answered acks=0");
                    continue;
                }
                let sent = drained.on(CONN);
                assert_eq!(sent.len(), 1, "{what}: one response");
                decode_response(api.key, version, id, sent[0]).expect(&what);
            }
        }
    }

    /// The lookup finds each row at its versions only, and no row for an API not in the table.
    #[test]
    fn lookup_stops_at_each_rows_versions() {
        for api in apis::<S>() {
            let found = |v| find::<S>(api.key, v).map(|a| a.key);
            assert_eq!(found(api.min_version), Some(api.key));
            assert_eq!(found(api.max_version), Some(api.key));
            assert_eq!(found(api.min_version - 1), None, "{:?}", api.key);
            assert_eq!(found(api.max_version + 1), None, "{:?}", api.key);
        }
        assert!(find::<S>(ApiKey::SaslHandshake, 0).is_none());
        assert!(find::<S>(ApiKey::from_code(999), 0).is_none());
    }

    /// The compile-time check rejects what would break the lookup or advertise a version the
    /// spec lacks.
    #[test]
    fn malformed_tables_are_rejected() {
        let r = |key, min, max| row::<MemoryStorage>(key, min, max, |_, _| Reply::Close);
        assert!(well_formed(&[
            r(ApiKey::Produce, 0, 11),
            r(ApiKey::Fetch, 0, 17)
        ]));
        let bad = [
            // Unsorted.
            [r(ApiKey::Fetch, 0, 17), r(ApiKey::Produce, 0, 11)],
            // A key twice.
            [r(ApiKey::Fetch, 0, 4), r(ApiKey::Fetch, 5, 17)],
            // Beyond the spec's versions, below them, and an empty range.
            [r(ApiKey::Produce, 0, 11), r(ApiKey::Fetch, 0, 99)],
            [r(ApiKey::Produce, -1, 11), r(ApiKey::Fetch, 0, 17)],
            [r(ApiKey::Produce, 3, 2), r(ApiKey::Fetch, 0, 17)],
            // A key the spec does not define.
            [r(ApiKey::Produce, 0, 11), r(ApiKey::from_code(999), 0, 0)],
        ];
        for table in &bad {
            assert!(!well_formed(table));
        }
    }
}
