//! A fault rule and its text: `key=value` pairs separated by commas, the same in the startup
//! setting and over HTTP, parsed here so every runtime reads them alike.
//!
//! ```text
//! api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3,topic=t,partition=0,client_id=x
//! api=Produce,delay_ms=500
//! close_after=2,api=Fetch
//! leaderless_ms=5000,topic=t,partition=0
//! throttle_ms=100,client_id=x
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use crate::codec::ApiKey;
use crate::error::ErrorCode;

/// What a rule does to the requests it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The request fails with this error: on the matching partitions (or topics) of APIs that
    /// answer per partition, at the top level of the others (`error=NAME` or `error=NUMBER`).
    Error(ErrorCode),
    /// The answer is held this long; later requests of the connection wait behind it
    /// (`delay_ms=N`).
    Latency {
        /// Milliseconds.
        delay_ms: u32,
    },
    /// The connection is closed, unanswered, at the matching request after this many more
    /// (`close_after=N`); the rule then ends.
    Close {
        /// Matching requests answered before the close.
        after: u32,
    },
    /// The partition has no leader for this long (`leaderless_ms=N`): Metadata reports leader
    /// -1 with LEADER_NOT_AVAILABLE, Produce, Fetch and ListOffsets get NOT_LEADER_OR_FOLLOWER.
    Leaderless {
        /// Milliseconds from when the rule is added.
        duration_ms: u32,
    },
    /// Produce and Fetch answers carry this `throttle_time_ms` (`throttle_ms=N`).
    Throttle {
        /// Milliseconds.
        throttle_ms: i32,
    },
}

/// One fault: what it does, and which requests it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// What it does.
    pub kind: FaultKind,
    /// Only requests of this API (required for [`FaultKind::Error`]).
    pub api: Option<ApiKey>,
    /// Only this topic (errors of per-partition APIs; required for leaderless).
    pub topic: Option<String>,
    /// Only this partition of `topic`.
    pub partition: Option<i32>,
    /// Only requests whose header carries this client id.
    pub client_id: Option<String>,
    /// How many requests it applies to before it ends; `None`: until removed.
    pub count: Option<u32>,
}

/// Why a rule was refused. The text says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultError(pub String);

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse<T>(message: String) -> Result<T, FaultError> {
    Err(FaultError(message))
}

/// APIs whose error answers go on matching partitions (or, for Metadata, CreateTopics and
/// DeleteTopics, topics); the others of the request are served.
pub(crate) const PER_PARTITION_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
];

/// APIs whose error answers carry the error at the top level (per group for DescribeGroups,
/// per partition for AddPartitionsToTxn before v4), as Kafka's `getErrorResponse` builds them.
pub(crate) const TOP_LEVEL_APIS: &[ApiKey] = &[
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
];

/// The longest client id or topic a rule may name (Kafka's topic name bound serves both).
const NAME_BYTES_MAX: usize = crate::limits::TOPIC_NAME_LENGTH_MAX;

impl FaultRule {
    /// Read a rule from its text; the error names the key or value at fault.
    pub fn parse(text: &str) -> Result<Self, FaultError> {
        let mut rule = FaultRule {
            kind: FaultKind::Error(ErrorCode::None),
            api: None,
            topic: None,
            partition: None,
            client_id: None,
            count: None,
        };
        let mut kind = None;
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return refuse(format!("`{pair}` is not key=value"));
            };
            let (key, value) = (key.trim(), value.trim());
            let found = rule.set(key, value)?;
            if let Some(found) = found {
                if kind.replace(found).is_some() {
                    return refuse(String::from(
                        "a rule has one of error, delay_ms, close_after, leaderless_ms, throttle_ms",
                    ));
                }
            }
        }
        let Some(kind) = kind else {
            return refuse(String::from(
                "a rule needs one of error, delay_ms, close_after, leaderless_ms, throttle_ms",
            ));
        };
        rule.kind = kind;
        rule.check()?;
        Ok(rule)
    }

    /// Take one `key=value`; returns the kind when the key names one.
    fn set(&mut self, key: &str, value: &str) -> Result<Option<FaultKind>, FaultError> {
        let twice = || FaultError(format!("`{key}` is given twice"));
        match key {
            "api" => {
                let api = parse_api(value)?;
                self.api.replace(api).map_or(Ok(None), |_| Err(twice()))
            }
            "topic" => {
                let topic = name(key, value)?;
                self.topic.replace(topic).map_or(Ok(None), |_| Err(twice()))
            }
            "client_id" => {
                let id = name(key, value)?;
                self.client_id
                    .replace(id)
                    .map_or(Ok(None), |_| Err(twice()))
            }
            "partition" => {
                let p = number::<i32>(key, value).and_then(|p| non_negative(key, p))?;
                self.partition.replace(p).map_or(Ok(None), |_| Err(twice()))
            }
            "count" => {
                let n = number::<u32>(key, value)?;
                if n == 0 {
                    return refuse(String::from("`count` must be at least 1"));
                }
                self.count.replace(n).map_or(Ok(None), |_| Err(twice()))
            }
            "error" => parse_error(value).map(|e| Some(FaultKind::Error(e))),
            "delay_ms" => number(key, value).map(|delay_ms| Some(FaultKind::Latency { delay_ms })),
            "close_after" => number(key, value).map(|after| Some(FaultKind::Close { after })),
            "leaderless_ms" => {
                number(key, value).map(|duration_ms| Some(FaultKind::Leaderless { duration_ms }))
            }
            "throttle_ms" => number::<i32>(key, value)
                .and_then(|t| non_negative(key, t))
                .map(|throttle_ms| Some(FaultKind::Throttle { throttle_ms })),
            _ => refuse(format!(
                "unknown key `{key}` (keys: api, error, delay_ms, close_after, leaderless_ms, \
                 throttle_ms, count, topic, partition, client_id)"
            )),
        }
    }

    /// Whether the rule makes sense (what [`FaultRule::parse`] and [`super::Broker::add_fault`]
    /// check): combinations that mean nothing are refused rather than ignored.
    pub fn check(&self) -> Result<(), FaultError> {
        if self.partition.is_some() && self.topic.is_none() {
            return refuse(String::from("`partition` needs a `topic`"));
        }
        match self.kind {
            FaultKind::Error(code) => self.check_error(code),
            FaultKind::Latency { .. } => self.only(&["api", "client_id", "count"], "delay_ms"),
            FaultKind::Close { .. } => self.only(&["api", "client_id"], "close_after"),
            FaultKind::Leaderless { .. } => {
                if self.topic.is_none() || self.partition.is_none() {
                    return refuse(String::from(
                        "`leaderless_ms` needs a `topic` and `partition`",
                    ));
                }
                self.only(&["topic", "partition"], "leaderless_ms")
            }
            FaultKind::Throttle { .. } => {
                if self
                    .api
                    .is_some_and(|a| a != ApiKey::Produce && a != ApiKey::Fetch)
                {
                    return refuse(String::from(
                        "`throttle_ms` applies to Produce and Fetch only",
                    ));
                }
                self.only(&["api", "client_id", "count"], "throttle_ms")
            }
        }
    }

    fn check_error(&self, code: ErrorCode) -> Result<(), FaultError> {
        if code == ErrorCode::None {
            return refuse(String::from("`error` must name an error, not NONE"));
        }
        let Some(api) = self.api else {
            return refuse(String::from("`error` needs an `api`"));
        };
        let per_partition = PER_PARTITION_APIS.contains(&api);
        if !per_partition && !TOP_LEVEL_APIS.contains(&api) {
            return refuse(format!(
                "errors are not injected into {} (APIs: {})",
                api.name(),
                supported_apis()
            ));
        }
        if self.partition.is_some() && matches!(api, ApiKey::CreateTopics | ApiKey::DeleteTopics) {
            return refuse(format!("{} fails whole topics: no `partition`", api.name()));
        }
        if !per_partition && self.topic.is_some() {
            return refuse(format!("{} has no topics to pick with `topic`", api.name()));
        }
        Ok(())
    }

    /// Refuses any key set beyond `allowed` for a rule of `kind`.
    fn only(&self, allowed: &[&str], kind: &str) -> Result<(), FaultError> {
        let set = [
            ("api", self.api.is_some()),
            ("topic", self.topic.is_some()),
            ("partition", self.partition.is_some()),
            ("client_id", self.client_id.is_some()),
            ("count", self.count.is_some()),
        ];
        for (key, is_set) in set {
            if is_set && !allowed.contains(&key) {
                return refuse(format!("`{key}` does not apply to `{kind}`"));
            }
        }
        Ok(())
    }
}

fn supported_apis() -> String {
    let names: alloc::vec::Vec<&str> = PER_PARTITION_APIS
        .iter()
        .chain(TOP_LEVEL_APIS)
        .map(|a| a.name())
        .collect();
    names.join(", ")
}

fn parse_api(value: &str) -> Result<ApiKey, FaultError> {
    let by_name = ApiKey::ALL
        .iter()
        .copied()
        .find(|a| a.name().eq_ignore_ascii_case(value));
    let by_number = value
        .parse::<i16>()
        .ok()
        .map(ApiKey::from_code)
        .filter(|a| a.versions().is_some());
    by_name.or(by_number).ok_or_else(|| {
        FaultError(format!(
            "unknown api `{value}` (Kafka's names: Produce, ...)"
        ))
    })
}

fn parse_error(value: &str) -> Result<ErrorCode, FaultError> {
    if let Ok(n) = value.parse::<i16>() {
        return Ok(ErrorCode::from_code(n));
    }
    // Every named code lies in this range; a walk keeps the table in `error.rs` the one list.
    (-1..=200)
        .map(ErrorCode::from_code)
        .find(|e| !matches!(e, ErrorCode::Unknown(_)) && e.name().eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            FaultError(format!(
                "unknown error `{value}` (Kafka's names, as NOT_LEADER_OR_FOLLOWER, or numbers)"
            ))
        })
}

fn number<T: core::str::FromStr>(key: &str, value: &str) -> Result<T, FaultError> {
    value
        .parse()
        .map_err(|_| FaultError(format!("`{key}` must be a whole number, not `{value}`")))
}

fn non_negative(key: &str, n: i32) -> Result<i32, FaultError> {
    if n < 0 {
        return refuse(format!("`{key}` must not be negative"));
    }
    Ok(n)
}

fn name(key: &str, value: &str) -> Result<String, FaultError> {
    if value.is_empty() || value.len() > NAME_BYTES_MAX {
        return refuse(format!("`{key}` must have 1 to {NAME_BYTES_MAX} bytes"));
    }
    if value.contains([',', ';', '=']) {
        return refuse(format!("`{key}` must not contain `,`, `;` or `=`"));
    }
    Ok(value.to_string())
}

impl fmt::Display for FaultRule {
    /// The text [`FaultRule::parse`] reads back to the same rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FaultKind::Error(e) => match e {
                ErrorCode::Unknown(n) => format!("error={n}"),
                e => format!("error={}", e.name()),
            },
            FaultKind::Latency { delay_ms } => format!("delay_ms={delay_ms}"),
            FaultKind::Close { after } => format!("close_after={after}"),
            FaultKind::Leaderless { duration_ms } => format!("leaderless_ms={duration_ms}"),
            FaultKind::Throttle { throttle_ms } => format!("throttle_ms={throttle_ms}"),
        };
        match self.api {
            Some(api) => write!(f, "api={},{kind}", api.name())?,
            None => f.write_str(&kind)?,
        }
        if let Some(n) = self.count {
            write!(f, ",count={n}")?;
        }
        if let Some(t) = &self.topic {
            write!(f, ",topic={t}")?;
        }
        if let Some(p) = self.partition {
            write!(f, ",partition={p}")?;
        }
        if let Some(c) = &self.client_id {
            write!(f, ",client_id={c}")?;
        }
        Ok(())
    }
}
