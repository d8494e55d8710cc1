//! The HTTP listener's side of the broker (`metrics_listener`): Prometheus metrics, the web
//! console and its JSON API, and fault injection. Requests arrive whole (`wire` reads them off
//! the socket); each route turns one [`Request`] into one [`Response`].

pub mod ask;
pub mod routes;
pub mod wire;

use std::borrow::Cow;

/// The methods the routes answer; anything else is refused with 405.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Delete,
    Other,
}

/// One whole request: the path split from its query, the body read to its Content-Length.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: Method,
    /// The path, percent-encoded as sent (`/api/topics/my%20topic`).
    pub path: &'a str,
    /// What follows `?`, without it; empty when there is none.
    pub query: &'a str,
    /// The body (a POST's form, `application/x-www-form-urlencoded`).
    pub body: &'a [u8],
    /// The `Host` header, if sent.
    pub host: Option<&'a str>,
}

impl Request<'_> {
    /// The decoded value of query parameter `name`, the first if repeated.
    pub fn param(&self, name: &str) -> Option<Cow<'_, str>> {
        param(self.query, name)
    }

    /// The decoded value of form field `name` of a POST body, falling back to the query.
    pub fn form(&self, name: &str) -> Option<Cow<'_, str>> {
        std::str::from_utf8(self.body)
            .ok()
            .and_then(|body| param(body, name))
            .or_else(|| self.param(name))
    }

    /// Whether the `Host` header names this machine by address or as `localhost` (or sends
    /// none, as HTTP/1.0 may): a page of another site that got its name to resolve here (DNS
    /// rebinding) sends its own name, and is refused what only local pages may read.
    pub fn host_is_local(&self) -> bool {
        let Some(host) = self.host else {
            return true;
        };
        // `[::1]:9644`, `127.0.0.1:9644`, `localhost:9644`, or any of them without the port.
        let name = match host.strip_prefix('[') {
            Some(v6) => {
                return v6
                    .split(']')
                    .next()
                    .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
            }
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        let name = name.to_ascii_lowercase();
        name.parse::<std::net::Ipv4Addr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
    }

    /// The path's segments after `prefix` (`/api/topics/`), each percent-decoded; `None` if the
    /// path does not start with it.
    pub fn segments_after(&self, prefix: &str) -> Option<Vec<Cow<'_, str>>> {
        let rest = self.path.strip_prefix(prefix)?;
        Some(
            rest.split('/')
                .filter(|s| !s.is_empty())
                .map(percent_decode)
                .collect(),
        )
    }
}

/// One answer, written with its Content-Length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// `Content-Encoding`, for assets stored compressed.
    pub content_encoding: Option<&'static str>,
    pub body: Vec<u8>,
}

impl Response {
    /// `body` as JSON.
    pub fn json(status: u16, body: String) -> Response {
        Response::new(status, "application/json", body.into_bytes())
    }

    /// `{"error": message}` with `status`: how every JSON route refuses.
    pub fn error(status: u16, message: &str) -> Response {
        let mut j = crate::json::Json::new();
        j.begin_object();
        j.key("error").string(message);
        j.end_object();
        Response::json(status, j.finish())
    }

    pub fn not_found() -> Response {
        Response::error(404, "not found")
    }

    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type,
            content_encoding: None,
            body,
        }
    }
}

/// The decoded value of `name` in `a=1&b=x%20y` (`+` is a space, as forms encode it).
pub fn param<'q>(query: &'q str, name: &str) -> Option<Cow<'q, str>> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// `%XX` and `+` decoded; a malformed escape is kept as written, and bytes that do not make
/// UTF-8 are replaced, so any input decodes to something.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_byte) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(two).ok()?;
    u8::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode_percent_and_plus() {
        assert_eq!(param("a=1&b=x%20y+z", "b").as_deref(), Some("x y z"));
        assert_eq!(param("a=1&b=2", "c"), None);
        assert_eq!(param("flag&a=1", "flag").as_deref(), Some(""));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn segments_are_decoded() {
        let req = Request {
            method: Method::Get,
            path: "/api/topics/my%20topic/messages",
            query: "",
            body: b"",
            host: None,
        };
        let segments = req.segments_after("/api/topics/").unwrap_or_default();
        assert_eq!(segments, ["my topic", "messages"]);
        assert!(req.segments_after("/metrics").is_none());
    }

    #[test]
    fn local_hosts() {
        let with_host = |host| Request {
            method: Method::Get,
            path: "/",
            query: "",
            body: b"",
            host,
        };
        for local in [
            None,
            Some("127.0.0.1:9644"),
            Some("10.0.0.5"),
            Some("[::1]:9644"),
            Some("[fe80::1]"),
            Some("localhost:9644"),
            Some("LocalHost"),
            Some("app.localhost:80"),
        ] {
            assert!(with_host(local).host_is_local(), "{local:?}");
        }
        for other in [
            Some("evil.example:9644"),
            Some("[nope]:1"),
            Some("localhost.evil.com"),
        ] {
            assert!(!with_host(other).host_is_local(), "{other:?}");
        }
    }

    #[test]
    fn form_falls_back_to_query() {
        let req = Request {
            method: Method::Post,
            path: "/",
            query: "x=q",
            body: b"y=b",
            host: None,
        };
        assert_eq!(req.form("y").as_deref(), Some("b"));
        assert_eq!(req.form("x").as_deref(), Some("q"));
    }
}
