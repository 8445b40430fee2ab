//! [`ApiError`]: every failed request answers with a status and a JSON body
//! naming the problem: `{"error": {"status": 404, "code": "unknown_bot",
//! "message": "no engine for bot \"x\""}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// A request that could not be served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable name of the problem (`unknown_bot`, …).
    pub code: &'static str,
    /// What was wrong, in words.
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 for a bot no engine looks after.
    pub fn unknown_bot(bot: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_bot",
            format!("no engine looks after bot {bot:?}"),
        )
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500 (logged): something on the server side failed.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(%message, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The error for a library error: input errors are 400, state conflicts
    /// 409, an unknown engine 404, the rest 500/503.
    pub fn from_kaizen(e: &crate::Error) -> Self {
        use crate::Error as E;
        let status = match e {
            E::Invalid { .. } | E::NonFinite { .. } => StatusCode::BAD_REQUEST,
            E::UnknownEngine { .. } => StatusCode::NOT_FOUND,
            E::Busy { .. }
            | E::Paused { .. }
            | E::EngineExists { .. }
            | E::EngineStillSaving { .. }
            | E::AutoscaleInProgress
            | E::NoFactory => StatusCode::CONFLICT,
            E::ShuttingDown { .. } | E::NotRunning(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::NOT_FOUND => "unknown_bot",
            StatusCode::CONFLICT => "conflict",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return Self::internal(e.to_string());
        }
        Self::new(status, code, e.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        Self::from_kaizen(&e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"kaizen\""));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response.insert_header(("Retry-After", "1"));
        }
        response.json(Body {
            error: Inner {
                status: self.status.as_u16(),
                code: self.code,
                message: &self.message,
            },
        })
    }
}

/// Answers for a request the extractors refused: malformed JSON, a body
/// over the limit, a bad query string or path.
pub(super) mod extract {
    use super::ApiError;
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::http::StatusCode;
    use actix_web::{HttpRequest, error::Error};

    pub fn json(e: JsonPayloadError, _: &HttpRequest) -> Error {
        let api = match &e {
            JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is {length} bytes; at most {limit} are accepted"),
            ),
            JsonPayloadError::Overflow { limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is over {limit} bytes"),
            ),
            JsonPayloadError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "the body must be JSON (Content-Type: application/json)",
            ),
            JsonPayloadError::Deserialize(err) => ApiError::bad_request(
                "malformed_body",
                format!("the JSON body is not valid: {err}"),
            ),
            other => ApiError::bad_request("malformed_body", other.to_string()),
        };
        api.into()
    }

    pub fn query(e: QueryPayloadError, _: &HttpRequest) -> Error {
        ApiError::bad_request("bad_query", format!("the query string is not valid: {e}")).into()
    }

    pub fn path(e: PathError, _: &HttpRequest) -> Error {
        ApiError::bad_request("bad_path", format!("the path is not valid: {e}")).into()
    }
}
