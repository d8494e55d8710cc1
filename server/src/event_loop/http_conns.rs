//! The HTTP side of the loop: the `metrics_listener` socket, its connections, and the internal
//! Kafka connection through which the routes ask the broker. Served between Kafka's turns on
//! the same thread: a request is answered whole before the loop goes on, so the routes see the
//! broker between two of its inputs, as a client would.

use std::collections::HashMap;
use std::io::IoSlice;

use blazemq_core::broker::{ConnId, Input};
use blazemq_core::storage::Storage;
use blazemq_platform::net::ReadOutcome;
use blazemq_platform::{Interest, Listener, Readiness, Registered, Stream, unix_ms};

use super::EventLoop;
use crate::http::ask::BrokerAsk;
use crate::http::wire::{self, BODY_BYTES_MAX, HEAD_BYTES_MAX, Parsed};
use crate::http::{Method, Response, routes};

/// HTTP connections served at once; more are closed on accept (a scraper and a few browser
/// tabs need a handful).
const HTTP_CONNECTIONS_MAX: usize = 32;
/// Bytes a connection may hold before a whole request is in them.
const INPUT_BYTES_MAX: usize = HEAD_BYTES_MAX + BODY_BYTES_MAX;

/// The listener, its connections, and the broker connection the routes ask through.
#[derive(Debug)]
pub struct HttpSide {
    listener: Option<Registered<Listener>>,
    conns: HashMap<u64, HttpConn>,
    context: routes::Context,
    /// The broker connection of the routes' requests, accepted when first needed.
    asking: Option<ConnId>,
    correlation_id: i32,
}

#[derive(Debug)]
struct HttpConn {
    stream: Registered<Stream>,
    /// Received bytes not yet part of an answered request.
    input: Vec<u8>,
    /// Answers not yet written, from `written` on.
    output: Vec<u8>,
    written: usize,
    /// Close once `output` is written.
    closing: bool,
}

impl HttpSide {
    pub fn new(listener: Option<Registered<Listener>>, context: routes::Context) -> HttpSide {
        HttpSide {
            listener,
            conns: HashMap::new(),
            context,
            asking: None,
            correlation_id: 0,
        }
    }

    /// Whether poller key `key` is one of the HTTP connections.
    pub fn serves(&self, key: u64) -> bool {
        self.conns.contains_key(&key)
    }

    /// The broker closed `conn`: if it was the routes', the next request opens another.
    pub fn forgotten(&mut self, conn: ConnId) {
        if self.asking == Some(conn) {
            self.asking = None;
        }
    }

    /// Stops listening (shutdown); open connections are dropped with the loop.
    pub fn stop(&mut self) {
        self.listener = None;
    }
}

impl<S: Storage> EventLoop<S>
where
    S::Segment: std::fmt::Debug,
{
    pub(super) fn accept_http(&mut self) {
        for _ in 0..super::ACCEPTS_PER_TURN_MAX {
            let Some(listener) = &self.http.listener else {
                return;
            };
            let stream = match listener.source().accept() {
                Ok(Some(stream)) => stream,
                Ok(None) => return,
                Err(e) => {
                    // Out of descriptors: the Kafka side's pause covers both listeners.
                    crate::warn!("HTTP accept failed", error = e);
                    return;
                }
            };
            if self.http.conns.len() >= HTTP_CONNECTIONS_MAX {
                drop(stream);
                continue;
            }
            let id = self.next_conn_id;
            self.next_conn_id += 1;
            match self
                .poller
                .register(stream, id as usize, Interest::READABLE)
            {
                Ok(stream) => {
                    let conn = HttpConn {
                        stream,
                        input: Vec::new(),
                        output: Vec::new(),
                        written: 0,
                        closing: false,
                    };
                    self.http.conns.insert(id, conn);
                }
                Err(e) => crate::warn!("cannot watch a new HTTP connection", error = e),
            }
        }
    }

    pub(super) fn on_http_ready(&mut self, id: u64, event: &Readiness) {
        if event.readable {
            self.http_read(id);
        }
        self.http_write(id);
    }

    /// Read what has arrived and answer every whole request in it.
    fn http_read(&mut self, id: u64) {
        let Some(conn) = self.http.conns.get_mut(&id) else {
            return;
        };
        if conn.closing || conn.written < conn.output.len() {
            // Answers first: a client that does not read them is not read either.
            return;
        }
        match conn.stream.source().read(&mut self.read_buffer) {
            Ok(ReadOutcome::Data(n)) => conn.input.extend_from_slice(&self.read_buffer[..n]),
            Ok(ReadOutcome::WouldBlock) => return,
            Ok(ReadOutcome::Eof) | Err(_) => {
                self.http.conns.remove(&id);
                return;
            }
        }
        let input = std::mem::take(&mut conn.input);
        let used = self.answer_all(id, &input);
        if let Some(conn) = self.http.conns.get_mut(&id) {
            conn.input = input[used..].to_vec();
            if conn.input.len() > INPUT_BYTES_MAX && !conn.closing {
                conn.closing = true;
            }
        }
    }

    /// Answers the whole requests at the front of `input`; returns the bytes they took.
    fn answer_all(&mut self, id: u64, input: &[u8]) -> usize {
        let mut used = 0;
        loop {
            let mut out = Vec::new();
            let closing = match wire::parse(&input[used..]) {
                Parsed::Incomplete => return used,
                Parsed::Refused { status, message } => {
                    wire::write(&Response::error(status, message), false, false, &mut out);
                    used = input.len();
                    true
                }
                Parsed::Request {
                    request,
                    consumed,
                    keep_alive,
                } => {
                    let response = self.serve(&request);
                    let head_only = request.method == Method::Head;
                    wire::write(&response, keep_alive, head_only, &mut out);
                    used += consumed;
                    !keep_alive
                }
            };
            let Some(conn) = self.http.conns.get_mut(&id) else {
                return input.len();
            };
            conn.output.extend_from_slice(&out);
            if closing {
                conn.closing = true;
                return input.len();
            }
        }
    }

    /// One request, answered by the routes with the broker between two of its inputs.
    fn serve(&mut self, request: &crate::http::Request<'_>) -> Response {
        if let Some(response) = crate::metrics::route(request, &self.broker, &self.metrics) {
            return response;
        }
        let now = self.now();
        let conn = match self.http.asking {
            Some(conn) => conn,
            None => {
                let conn = ConnId(self.next_conn_id);
                self.next_conn_id += 1;
                self.broker.handle(Input::Accepted {
                    conn,
                    now,
                    peer: "127.0.0.1",
                });
                self.http.asking = Some(conn);
                conn
            }
        };
        let mut others = Vec::new();
        let mut ask = BrokerAsk {
            broker: &mut self.broker,
            conn,
            now,
            unix_ms: unix_ms(),
            others: &mut others,
            correlation_id: self.http.correlation_id,
        };
        let response = routes::route(request, &mut ask, &self.http.context);
        self.http.correlation_id = ask.correlation_id;
        if self.broker.is_parked(conn) {
            // A request that waits would hold every later one behind it: start afresh.
            self.broker.handle(Input::Closed(conn));
            self.http.asking = None;
        }
        // What the routes' requests caused for other connections (a woken Fetch), in order.
        for output in others {
            self.route_output(output);
        }
        self.drain_outputs();
        response
    }

    /// Write what is queued; close when done if asked to; watch for what comes next.
    fn http_write(&mut self, id: u64) {
        let Some(conn) = self.http.conns.get_mut(&id) else {
            return;
        };
        while conn.written < conn.output.len() {
            let slice = [IoSlice::new(&conn.output[conn.written..])];
            match conn.stream.source().write_vectored(&slice) {
                Ok(Some(n)) => conn.written += n,
                Ok(None) => break,
                Err(_) => {
                    self.http.conns.remove(&id);
                    return;
                }
            }
        }
        let done = conn.written == conn.output.len();
        if done {
            conn.output.clear();
            conn.written = 0;
            if conn.closing {
                self.http.conns.remove(&id);
                return;
            }
        }
        let interest = Interest {
            readable: done && !self.stopping,
            writable: !done,
        };
        if conn.stream.set_interest(interest).is_err() {
            self.http.conns.remove(&id);
        }
    }
}
