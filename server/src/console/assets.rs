//! The page and its script and style, compiled into the binary: the console needs no files
//! beside the broker and no network access beyond its own listener.

use crate::http::{Method, Request, Response};

const INDEX_HTML: &str = include_str!("../../console/index.html");
const APP_JS: &str = include_str!("../../console/app.js");
const STYLE_CSS: &str = include_str!("../../console/style.css");

/// `/` or `/assets/{name}`; 404 for an asset that does not exist, 405 for anything but GET.
pub(super) fn serve(req: &Request<'_>) -> Response {
    let (content_type, body) = match req.path {
        "/" => ("text/html; charset=utf-8", INDEX_HTML),
        "/assets/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/assets/style.css" => ("text/css; charset=utf-8", STYLE_CSS),
        _ => return Response::not_found(),
    };
    if !matches!(req.method, Method::Get | Method::Head) {
        return Response::error(405, "method not allowed");
    }
    Response::new(200, content_type, body.as_bytes().to_vec())
}
