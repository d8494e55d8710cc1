//! Every bound that input can push against, with its unit. Crossing one gets a Kafka error code
//! or a closed connection, never an abort.

/// The broker's bounds, set from configuration. Names follow TigerStyle: unit and qualifier last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request frame accepted (`max_request_size`); a larger size prefix closes the
    /// connection before anything is buffered.
    pub request_size_bytes_max: u32,
    /// Connections served at once; further accepts are closed at once.
    pub connections_max: u32,
    /// Requests parked (long-poll Fetch, a JoinGroup waiting for members) across all connections.
    pub parked_requests_max: u32,
    /// Bytes of unanswered requests buffered per connection while an earlier one is parked.
    pub connection_backlog_bytes_max: u32,
    /// Topics the broker will hold.
    pub topics_max: u32,
    /// Partitions of one topic.
    pub partitions_per_topic_max: u32,
    /// Longest `max_wait_ms` honoured for a Fetch.
    pub fetch_wait_ms_max: u32,
}

/// Kafka's default `message.max.bytes`, which also bounds one record batch here.
pub const BATCH_SIZE_BYTES_MAX_DEFAULT: u32 = 1_048_588;

/// Partitions whose files one turn of the broker creates (for CreateTopics and Metadata's
/// auto-creation together; a topic is created whole, so one with more partitions overspends a
/// turn once). Each costs a directory, a metadata file and a segment file: 0.1 ms on tmpfs, and
/// 1-3 ms on a virtual machine's ext4 without a journal, whose inode allocator scans the inodes
/// freed recently. One a turn keeps what a request creating thousands of topics costs the other
/// clients to one partition's file-system calls, and the extra turns cost about 20 us each.
pub const PARTITIONS_CREATED_PER_TURN_MAX: u32 = 1;

/// Kafka's longest topic name (`Topic.MAX_NAME_LENGTH`).
pub const TOPIC_NAME_LENGTH_MAX: usize = 249;

/// Events the broker holds for the runtime's log (`Broker::poll_event`); past it the newest are
/// counted, not kept. A few seconds of topic creation at one partition a turn, and at most a
/// few hundred KiB with the bounds below.
pub const EVENTS_QUEUED_MAX: usize = 1024;

/// Bytes of a client id an event keeps: a header's client id may be 32 KiB.
pub const CLIENT_ID_LOGGED_BYTES_MAX: usize = 256;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_size_bytes_max: 100 * 1024 * 1024,
            connections_max: 10_000,
            parked_requests_max: 10_000,
            connection_backlog_bytes_max: 200 * 1024 * 1024,
            topics_max: 100_000,
            partitions_per_topic_max: 100_000,
            fetch_wait_ms_max: 60_000,
        }
    }
}

const _: () = assert!(BATCH_SIZE_BYTES_MAX_DEFAULT < 100 * 1024 * 1024);
