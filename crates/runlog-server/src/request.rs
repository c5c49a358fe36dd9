//! The request extractor: a GET's query string or a POST's JSON body,
//! decoded into the endpoint's type; anything that does not decode is a
//! 400 that says why. A key repeated in a query string is a list
//! (`run_ids=1&run_ids=2`), as MLflow's client sends repeated fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

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
            let fields = query_fields(pairs);
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

/// A query string's pairs as JSON fields: a key given once is a string, a
/// key repeated is the list of its values in order.
fn query_fields(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut fields = Map::new();
    for (key, value) in pairs {
        match fields.get_mut(&key) {
            None => {
                fields.insert(key, Value::String(value));
            }
            Some(Value::Array(list)) => list.push(Value::String(value)),
            Some(first) => *first = Value::Array(vec![first.take(), Value::String(value)]),
        }
    }
    fields
}

/// A repeated string field: a list, or one string (a query string's key
/// given once), absent as empty.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(list)) => list,
    })
}
