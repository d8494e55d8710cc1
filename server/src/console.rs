//! The web console: one page (`/`, its script and style under `/assets/`) and the JSON API it
//! reads (`/api/...`), served on the `metrics_listener`. The API learns everything by asking the
//! broker Kafka requests through [`Ask`], as any client would, so the console shows what a client
//! sees and needs no access to the broker's state.
//!
//! Routes (answers are JSON; errors are `{"error": "..."}` with 400, 403, 404, 405, 409 or 502):
//!
//! - `GET /api/overview`: cluster id, brokers, version, counts of topics, partitions and groups,
//!   and whether writes are allowed.
//! - `GET /api/topics`: every topic with its partition count, size (DescribeLogDirs) and the sum
//!   of its partitions' log start and end offsets (the page derives records/s and bytes/s from
//!   two polls).
//! - `GET /api/topics/{name}`: partitions (leader, replicas, log start, end offset, size) and the
//!   topic's configs with their source (DescribeConfigs).
//! - `GET /api/topics/{name}/messages?partition=P&offset=O&limit=N` (or `timestamp=MS` instead of
//!   `offset`, resolved with ListOffsets; with neither, the last N records): records with offset,
//!   timestamp, key and value as hex (`null` when null) and headers. Compressed batches are
//!   decompressed; an offset below the log start reads from the log start.
//! - `POST /api/topics/{name}/messages` (form: `partition` (else the key's partition by murmur2,
//!   as Kafka's default partitioner), `key` (empty: none), `value`, `headers` (lines
//!   `name=value`)): the partition and offset written.
//! - `GET /api/groups`: groups with protocol type and state.
//! - `GET /api/groups/{id}`: state, members with client id, host and assignment (decoded from
//!   the consumer protocol), committed offsets, end offsets and lag per partition.
//! - `POST /api/groups/{id}/reset` (form: `topic`, `partition` (else all), `to` =
//!   `earliest|latest|offset`, `offset`): commits new offsets with generation -1, as
//!   `kafka-consumer-groups --reset-offsets` does; refused with 409 unless the group is Empty or
//!   Dead. An offset outside the log is moved to its nearest end, as that tool does.
//! - `GET /api/config`: the broker's configs (DescribeConfigs of its broker resource).
//!
//! The two POST routes answer 403 unless `console_write` is set, and unless their form carries
//! `token`, a secret of this process that `GET /api/overview` hands out: a page of another
//! origin can post a form here but cannot read the overview (no CORS), so it cannot write
//! (cross-site request forgery). Forms are `application/x-www-form-urlencoded`.

mod assets;
mod assignment;
mod groups;
mod kafka;
mod messages;
mod overview;
mod topics;

#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use crate::http::ask::Ask;
use crate::http::{Method, Request, Response};

/// What the operator allows the console.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// Whether the routes that write (produce, offset reset) are open (`console_write`).
    pub write: bool,
}

/// A route's answer; `Err` holds the error answer, so `?` ends a route at its first refusal.
type Answer = Result<Response, Response>;

/// The console's answer to `req`, or `None` if the path is not the console's.
pub fn route(
    req: &Request<'_>,
    ask: &mut impl Ask,
    settings: &ConsoleSettings,
) -> Option<Response> {
    if req.path == "/" || req.path.starts_with("/assets/") {
        return Some(assets::serve(req));
    }
    let segments = req.segments_after("/api/")?;
    let segments: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
    let Some(api) = Api::parse(&segments) else {
        return Some(Response::not_found());
    };
    let method = match req.method {
        Method::Head => Method::Get,
        other => other,
    };
    if !api.allows(method) {
        return Some(Response::error(405, "method not allowed"));
    }
    if method == Method::Post && !settings.write {
        return Some(Response::error(
            403,
            "the console is read-only: start the broker with console_write: true",
        ));
    }
    if method == Method::Post && req.form("token").as_deref() != Some(write_token()) {
        return Some(Response::error(
            403,
            "a write needs the token that GET /api/overview answers",
        ));
    }
    Some(api.answer(method, req, ask, settings).unwrap_or_else(|e| e))
}

/// The API's routes, by path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api<'a> {
    Overview,
    Config,
    Topics,
    Topic(&'a str),
    Messages(&'a str),
    Groups,
    Group(&'a str),
    Reset(&'a str),
}

impl<'a> Api<'a> {
    fn parse(segments: &[&'a str]) -> Option<Api<'a>> {
        Some(match *segments {
            ["overview"] => Api::Overview,
            ["config"] => Api::Config,
            ["topics"] => Api::Topics,
            ["topics", name] => Api::Topic(name),
            ["topics", name, "messages"] => Api::Messages(name),
            ["groups"] => Api::Groups,
            ["groups", id] => Api::Group(id),
            ["groups", id, "reset"] => Api::Reset(id),
            _ => return None,
        })
    }

    fn allows(self, method: Method) -> bool {
        match self {
            Api::Messages(_) => matches!(method, Method::Get | Method::Post),
            Api::Reset(_) => method == Method::Post,
            _ => method == Method::Get,
        }
    }

    fn answer(
        self,
        method: Method,
        req: &Request<'_>,
        ask: &mut impl Ask,
        settings: &ConsoleSettings,
    ) -> Answer {
        match self {
            Api::Overview => overview::overview(ask, settings),
            Api::Config => overview::broker_config(ask),
            Api::Topics => topics::list(ask),
            Api::Topic(name) => topics::describe(ask, name),
            Api::Messages(name) if method == Method::Post => messages::produce(ask, name, req),
            Api::Messages(name) => messages::browse(ask, name, req),
            Api::Groups => groups::list(ask),
            Api::Group(id) => groups::describe(ask, id),
            Api::Reset(id) => groups::reset(ask, id, req),
        }
    }
}

/// The secret that write requests carry: 128 bits from the OS's randomness (std seeds each
/// `RandomState` from it), drawn once per process.
fn write_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let draw = || RandomState::new().build_hasher().finish().to_be_bytes();
        let mut bytes = draw().to_vec();
        bytes.extend_from_slice(&draw());
        hex(&bytes)
    })
}

/// 400 with `message`.
fn bad_request(message: &str) -> Response {
    Response::error(400, message)
}

/// The integer in form or query field `name`, `None` if absent or empty; 400 if it is not an
/// integer of type `T` at least `min`.
fn int_field<T>(req: &Request<'_>, name: &str, min: T) -> Result<Option<T>, Response>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(text) = req.form(name) else {
        return Ok(None);
    };
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<T>() {
        Ok(n) if n >= min => Ok(Some(n)),
        _ => Err(bad_request(&format!("{name} must be an integer >= {min}"))),
    }
}

/// `bytes` as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}
