//! Fault injection over HTTP, on the `metrics_listener`: list, add and remove the broker's fault
//! rules while clients run (the rules' text: `blazemq_core::broker::FaultRule`).
//!
//! - `GET /faults`: `[{"id":1,"rule":"api=Produce,error=...","remaining":3}]`
//! - `POST /faults` with form field `rule=<text>`, or the text as the whole body: `{"id":N}`,
//!   or 400 with `{"error":...}` naming what is wrong with the rule
//! - `DELETE /faults/<id>`: `{"removed":1}`, or 404; `DELETE /faults`: every rule

use blazemq_core::broker::{Broker, FaultId, FaultRule};
use blazemq_core::storage::Storage;

use crate::http::{Method, Request, Response};
use crate::json::Json;

/// The answer to `req` if its path is `/faults` or under it, else `None`.
pub fn route<S: Storage>(req: &Request<'_>, broker: &mut Broker<S>) -> Option<Response> {
    let segments = req.segments_after("/faults")?;
    // `/faultsx` is not ours: the prefix must end at a `/` or the path's end.
    if !(req.path == "/faults" || req.path.starts_with("/faults/")) {
        return None;
    }
    Some(match (req.method, segments.as_slice()) {
        (Method::Get | Method::Head, []) => list(broker),
        (Method::Post, []) => add(req, broker),
        (Method::Delete, []) => remove_all(broker),
        (Method::Delete, [id]) => match id.parse::<u64>() {
            Ok(id) if broker.remove_fault(FaultId(id)) => removed(1),
            _ => Response::error(404, &format!("no fault rule {id}")),
        },
        (_, [] | [_]) => Response::error(405, "method not allowed"),
        _ => Response::not_found(),
    })
}

fn list<S: Storage>(broker: &Broker<S>) -> Response {
    let mut j = Json::new();
    j.begin_array();
    for fault in broker.faults() {
        j.begin_object();
        j.key("id").number(fault.id.0);
        j.key("rule").string(&fault.rule.to_string());
        match fault.remaining {
            Some(n) => j.key("remaining").number(n),
            None => j.key("remaining").null(),
        };
        j.end_object();
    }
    j.end_array();
    Response::json(200, j.finish())
}

fn add<S: Storage>(req: &Request<'_>, broker: &mut Broker<S>) -> Response {
    // A form field `rule`, else the body is the rule (`curl --data-binary 'api=...'`).
    let text = match req.form("rule") {
        Some(text) => text.into_owned(),
        None => match std::str::from_utf8(req.body) {
            Ok(body) => body.trim().to_owned(),
            Err(_) => return Response::error(400, "the rule is not UTF-8"),
        },
    };
    let added = FaultRule::parse(&text).and_then(|rule| broker.add_fault(rule));
    match added {
        Ok(id) => {
            let mut j = Json::new();
            j.begin_object();
            j.key("id").number(id.0);
            j.end_object();
            Response::json(201, j.finish())
        }
        Err(e) => Response::error(400, &e.to_string()),
    }
}

fn remove_all<S: Storage>(broker: &mut Broker<S>) -> Response {
    let ids: Vec<FaultId> = broker.faults().into_iter().map(|f| f.id).collect();
    let count = ids
        .into_iter()
        .filter(|&id| broker.remove_fault(id))
        .count();
    removed(count)
}

fn removed(count: usize) -> Response {
    let mut j = Json::new();
    j.begin_object();
    j.key("removed").number(count);
    j.end_object();
    Response::json(200, j.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazemq_core::broker::BrokerConfig;
    use blazemq_core::storage::MemoryStorage;

    fn broker() -> Broker<MemoryStorage> {
        Broker::new(BrokerConfig::default(), MemoryStorage::default(), 1).expect("starts")
    }

    fn call(b: &mut Broker<MemoryStorage>, method: Method, path: &str, body: &str) -> Response {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let req = Request {
            method,
            path,
            query,
            body: body.as_bytes(),
            host: None,
        };
        route(&req, b).expect("a /faults path")
    }

    fn body(r: &Response) -> &str {
        std::str::from_utf8(&r.body).expect("utf-8")
    }

    #[test]
    fn rules_are_added_listed_and_removed() {
        let mut b = broker();
        let r = call(&mut b, Method::Get, "/faults", "");
        assert_eq!((r.status, body(&r)), (200, "[]"));
        // As a form field (`curl -d rule=...` percent-encodes it) and as the whole body.
        let form = "rule=api%3DProduce%2Cerror%3DNOT_LEADER_OR_FOLLOWER%2Ccount%3D3";
        let r = call(&mut b, Method::Post, "/faults", form);
        assert_eq!((r.status, body(&r)), (201, r#"{"id":1}"#));
        let r = call(&mut b, Method::Post, "/faults", "api=Fetch,delay_ms=20\n");
        assert_eq!((r.status, body(&r)), (201, r#"{"id":2}"#));
        let r = call(&mut b, Method::Get, "/faults", "");
        assert_eq!(
            body(&r),
            r#"[{"id":1,"rule":"api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3","remaining":3},{"id":2,"rule":"api=Fetch,delay_ms=20","remaining":null}]"#
        );
        let r = call(&mut b, Method::Delete, "/faults/1", "");
        assert_eq!((r.status, body(&r)), (200, r#"{"removed":1}"#));
        let r = call(&mut b, Method::Delete, "/faults/1", "");
        assert_eq!(r.status, 404, "gone already");
        let r = call(&mut b, Method::Delete, "/faults/x", "");
        assert_eq!(r.status, 404);
        call(&mut b, Method::Post, "/faults", "close_after=3");
        let r = call(&mut b, Method::Delete, "/faults", "");
        assert_eq!((r.status, body(&r)), (200, r#"{"removed":2}"#));
        assert!(b.faults().is_empty());
    }

    #[test]
    fn a_bad_rule_is_refused_with_the_reason() {
        let mut b = broker();
        let r = call(&mut b, Method::Post, "/faults", "api=Produce,error=NOPE");
        assert_eq!(r.status, 400);
        assert!(body(&r).contains("unknown error `NOPE`"), "{}", body(&r));
        let r = call(
            &mut b,
            Method::Post,
            "/faults",
            "rule=api%3DDeleteRecords%2Cerror%3D6",
        );
        assert_eq!(r.status, 400);
        assert!(
            body(&r).contains("not injected into DeleteRecords"),
            "{}",
            body(&r)
        );
        assert!(b.faults().is_empty());
    }

    #[test]
    fn other_paths_and_methods() {
        let mut b = broker();
        let req = |path| Request {
            method: Method::Get,
            path,
            query: "",
            body: b"",
            host: None,
        };
        assert!(route(&req("/metrics"), &mut b).is_none());
        assert!(route(&req("/faultsx"), &mut b).is_none());
        assert_eq!(call(&mut b, Method::Other, "/faults", "").status, 405);
        assert_eq!(call(&mut b, Method::Post, "/faults/1", "").status, 405);
        assert_eq!(call(&mut b, Method::Get, "/faults/1/x", "").status, 404);
    }
}
