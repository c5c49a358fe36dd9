//! Errors as MLflow answers them: `{"error_code": ..., "message": ...}`
//! with its status codes. A client's mistake is always a 4xx: the client
//! retries 5xx for minutes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// `INVALID_PARAMETER_VALUE` (400).
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }

    /// `RESOURCE_DOES_NOT_EXIST` (404).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }

    /// `RESOURCE_ALREADY_EXISTS` (400).
    pub fn exists(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "RESOURCE_ALREADY_EXISTS",
            message: message.into(),
        }
    }

    /// `UNAUTHENTICATED` (401).
    pub fn unauthenticated() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHENTICATED",
            message: "a valid bearer token is required (MLFLOW_TRACKING_TOKEN)".into(),
        }
    }

    /// `INTERNAL_ERROR` (500): the server or its storage failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: message.into(),
        }
    }
}

impl From<runlog::Error> for ApiError {
    fn from(error: runlog::Error) -> ApiError {
        use runlog::Error as E;
        let message = error.to_string();
        match error {
            E::UnknownRun(_) | E::UnknownSeries { .. } | E::UnknownExperiment(_) => {
                ApiError::not_found(message)
            }
            E::RunExists { .. } | E::ExperimentExists { .. } => ApiError::exists(message),
            E::InvalidName { .. }
            | E::InvalidArtifactPath { .. }
            | E::LimitExceeded { .. }
            | E::ValueTooLong { .. }
            | E::TooLarge { .. }
            | E::StepOverflow { .. }
            | E::KindConflict { .. }
            | E::ParamAlreadySet { .. }
            | E::ArtifactSource { .. }
            | E::RaggedTable { .. } => ApiError::invalid(message),
            _ => ApiError::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = json!({"error_code": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
