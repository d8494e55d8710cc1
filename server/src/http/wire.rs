//! HTTP/1.1 on the wire: a connection's bytes in, whole requests out (httparse reads the head,
//! Content-Length the body), and responses serialised with their length. Keep-alive, no chunked
//! bodies: the routes' requests are small and every browser sends them with a length.

use super::{Method, Request, Response};

/// Largest request head (request line and headers).
pub const HEAD_BYTES_MAX: usize = 16 * 1024;
/// Largest request body (a produced record from the console's form).
pub const BODY_BYTES_MAX: usize = 1 << 20;
/// Headers parsed per request; a request with more is refused.
const HEADERS_MAX: usize = 32;

/// What the bytes received so far hold.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// Not a whole request yet.
    Incomplete,
    /// A whole request, `consumed` bytes of the input, and whether the connection stays open.
    Request {
        request: Request<'a>,
        consumed: usize,
        keep_alive: bool,
    },
    /// Not a request this listener serves: answer `status` with `message`, then close.
    Refused { status: u16, message: &'static str },
}

/// Parses the request at the front of `input`.
pub fn parse(input: &[u8]) -> Parsed<'_> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut head = httparse::Request::new(&mut headers);
    let head_len = match head.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if input.len() > HEAD_BYTES_MAX => {
            return refused(431, "request head too large");
        }
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(httparse::Error::TooManyHeaders) => return refused(431, "too many headers"),
        Err(_) => return refused(400, "malformed request"),
    };
    if head_len > HEAD_BYTES_MAX {
        return refused(431, "request head too large");
    }
    let mut body_len = 0;
    let mut keep_alive = head.version == Some(1);
    let mut host = None;
    for h in head.headers.iter() {
        if h.name.eq_ignore_ascii_case("host") {
            host = std::str::from_utf8(h.value).ok().map(str::trim);
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) if n <= BODY_BYTES_MAX => body_len = n,
                Some(_) => return refused(413, "request body too large"),
                None => return refused(400, "bad Content-Length"),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return refused(501, "chunked request bodies are not supported");
        } else if h.name.eq_ignore_ascii_case("connection") {
            let value = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let Some(body) = input.get(head_len..head_len + body_len) else {
        return Parsed::Incomplete;
    };
    let target = head.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let method = match head.method.unwrap_or("") {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        _ => Method::Other,
    };
    Parsed::Request {
        request: Request {
            method,
            path,
            query,
            body,
            host,
        },
        consumed: head_len + body_len,
        keep_alive,
    }
}

fn refused(status: u16, message: &'static str) -> Parsed<'static> {
    Parsed::Refused { status, message }
}

/// `response` as bytes appended to `out`; a HEAD request gets the head alone.
pub fn write(response: &Response, keep_alive: bool, head_only: bool, out: &mut Vec<u8>) {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: {}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    if let Some(encoding) = response.content_encoding {
        head.push_str("Content-Encoding: ");
        head.push_str(encoding);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.extend_from_slice(head.as_bytes());
    if !head_only {
        out.extend_from_slice(&response.body);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(input: &[u8]) -> (Request<'_>, usize, bool) {
        match parse(input) {
            Parsed::Request {
                request,
                consumed,
                keep_alive,
            } => (request, consumed, keep_alive),
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn a_get_with_query() {
        let input = b"GET /api/topics?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n";
        let (req, consumed, keep_alive) = request(input);
        assert_eq!(req.method, Method::Get);
        assert_eq!((req.path, req.query), ("/api/topics", "x=1"));
        assert_eq!(consumed, 41);
        assert!(keep_alive);
        // The pipelined rest is the next request, still partial.
        assert!(matches!(parse(&input[consumed..]), Parsed::Incomplete));
    }

    #[test]
    fn a_post_waits_for_its_body() {
        let input = b"POST /faults HTTP/1.0\r\nContent-Length: 5\r\n\r\nrule=";
        assert!(matches!(
            parse(&input[..input.len() - 1]),
            Parsed::Incomplete
        ));
        let (req, consumed, keep_alive) = request(input);
        assert_eq!(req.body, b"rule=");
        assert_eq!(consumed, input.len());
        // HTTP/1.0 closes unless asked otherwise.
        assert!(!keep_alive);
    }

    #[test]
    fn refusals() {
        let status = |input: &[u8]| match parse(input) {
            Parsed::Refused { status, .. } => status,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(status(b"\x00\x01 garbage\r\n\r\n"), 400);
        assert_eq!(status(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
            413
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            501
        );
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(HEAD_BYTES_MAX + 10, b'a');
        assert_eq!(status(&long), 431);
        let many: String = (0..40).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(
            status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            431
        );
    }

    #[test]
    fn responses_carry_their_length() {
        let mut out = Vec::new();
        write(
            &Response::new(200, "text/plain; charset=utf-8", b"hi".to_vec()),
            true,
            false,
            &mut out,
        );
        let text = String::from_utf8(out).expect("ASCII");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("Connection: keep-alive\r\n"));
        assert!(text.ends_with("\r\n\r\nhi"));
        let mut head = Vec::new();
        write(
            &Response::new(404, "text/plain; charset=utf-8", b"gone".to_vec()),
            false,
            true,
            &mut head,
        );
        assert!(head.ends_with(b"Content-Length: 4\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"));
    }
}
