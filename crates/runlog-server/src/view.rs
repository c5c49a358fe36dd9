//! The web view's files, built by `npm run build` in `web/` and embedded
//! in the binary, so that the server is one file. They are public: the
//! page asks for a token when the API refuses it.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

/// The page.
const INDEX_HTML: &str = include_str!("../web/index.html");
/// The page's script, bundled with uPlot.
const APP_JS: &str = include_str!("../web/dist/app.js");
/// The page's style, uPlot's included.
const APP_CSS: &str = include_str!("../web/dist/app.css");

/// `GET /`: the page.
pub async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /app.js`.
pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /app.css`.
pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// A file answered with its type; revalidated on every load, so that a
/// new binary's page is never mixed with an old one's script.
fn asset(media_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, media_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
}
