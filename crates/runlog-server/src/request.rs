//! The request extractor: a GET's query string or a POST's JSON body,
//! decoded into the endpoint's type; anything that does not decode is a
//! 400 that says why.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A decoded request message.
pub struct Req<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Req<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Req<T>, ApiError> {
        if request.method() == Method::GET {
            let query = request.uri().query().unwrap_or("");
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
                .map_err(|e| ApiError::invalid(format!("bad query string: {e}")))?;
            let fields: serde_json::Map<String, serde_json::Value> = pairs
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            return serde_json::from_value(serde_json::Value::Object(fields))
                .map(Req)
                .map_err(|e| ApiError::invalid(format!("bad query: {e}")));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::invalid(format!("cannot read the request body: {e}")))?;
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &body
        };
        serde_json::from_slice(body)
            .map(Req)
            .map_err(|e| ApiError::invalid(format!("malformed request: {e}")))
    }
}
