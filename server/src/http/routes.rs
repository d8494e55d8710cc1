//! Which part of the broker answers which path of the HTTP listener.

use blazemq_core::storage::Storage;

use super::ask::BrokerAsk;
use super::{Method, Request, Response};
use crate::metrics::ServerMetrics;

/// What the routes need to know of the broker's settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context {
    /// `console`: the web console and its JSON API are served.
    pub console: bool,
    /// `console_write`: the console may produce and reset offsets.
    pub console_write: bool,
}

/// The answer to `req`; `ask` reaches the broker, as a client and directly.
pub fn route<S: Storage>(
    req: &Request<'_>,
    ask: &mut BrokerAsk<'_, S>,
    ctx: &Context,
    metrics: &ServerMetrics,
) -> Response {
    if req.method == Method::Other {
        return Response::error(405, "method not allowed");
    }
    if let Some(response) = crate::metrics::route(req, ask.broker, metrics) {
        return response;
    }
    if let Some(response) = crate::fault_routes::route(req, ask.broker) {
        return response;
    }
    if ctx.console {
        let settings = crate::console::ConsoleSettings {
            write: ctx.console_write,
        };
        if let Some(response) = crate::console::route(req, ask, &settings) {
            return response;
        }
    }
    Response::not_found()
}
