//! What every request passes before its handler: CORS (only for configured
//! origins), the rate limit per client address, the body size (by its
//! declared length; bodies read later are bounded as they are read), and
//! the bearer token.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use dashmap::DashMap;
use std::net::IpAddr;
use std::time::Instant;

use super::error::ApiError;
use super::{AppState, RateLimit};

/// Who made a request: the name of the token it carried.
#[derive(Clone, Debug)]
pub(crate) struct Who(pub String);

/// A token bucket per client address.
pub(crate) struct Limiter {
    rate: RateLimit,
    buckets: DashMap<IpAddr, (f64, Instant)>,
}

impl Limiter {
    pub fn new(rate: RateLimit) -> Self {
        Limiter {
            rate,
            buckets: DashMap::new(),
        }
    }

    /// Takes one request from `ip`'s bucket; false when it is empty.
    fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let burst = f64::from(self.rate.burst);
        let mut b = self.buckets.entry(ip).or_insert((burst, now));
        let (tokens, last) = *b;
        let tokens = (tokens
            + now.saturating_duration_since(last).as_secs_f64() * self.rate.per_second)
            .min(burst);
        if tokens >= 1.0 {
            *b = (tokens - 1.0, now);
            true
        } else {
            *b = (tokens, now);
            false
        }
    }
}

/// Whether a request needs the token: every change, and every read of data
/// when the server listens beyond loopback.
fn needs_token(method: &Method, path: &str, loopback: bool) -> bool {
    let reads = method == Method::GET || method == Method::HEAD;
    let data = path.starts_with("/api/") || path == "/metrics";
    !reads || (data && !loopback)
}

fn allowed_origin(state: &AppState, req: &ServiceRequest) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    state
        .config
        .cors_origins
        .iter()
        .any(|o| o == text)
        .then(|| origin.clone())
}

/// The middleware.
pub(crate) async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let cors = allowed_origin(&state, &req);
    if req.method() == Method::OPTIONS {
        // A CORS preflight: answered here for configured origins only.
        let mut response = match &cors {
            Some(origin) => {
                let mut r = HttpResponse::NoContent();
                r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
                    .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
                    .insert_header((
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        "Authorization, Content-Type",
                    ))
                    .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
                r
            }
            None => HttpResponse::MethodNotAllowed(),
        };
        return Ok(req.into_response(response.finish()).map_into_right_body());
    }
    let ip = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    if !state.limiter.allow(ip, Instant::now()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} requests a second from {ip}; try again shortly",
                state.config.rate_limit.per_second
            ),
        )
        .into());
    }
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && length > state.config.body_limit as u64
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the body is {length} bytes; at most {} are accepted",
                state.config.body_limit
            ),
        )
        .into());
    }
    let loopback = state.config.listen.ip().is_loopback();
    if needs_token(req.method(), req.path(), loopback) {
        let token = &state.parts.token;
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(""));
        match presented {
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "token_missing",
                    "this request needs the API token: Authorization: Bearer <token> \
                     (KAIZEN_TOKEN, or state/.kaizen/token)",
                )
                .into());
            }
            Some(p) if !token.matches(p) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "token_wrong",
                    "the bearer token is not the API token",
                )
                .into());
            }
            Some(_) => {
                req.extensions_mut().insert(Who(token.name().to_string()));
            }
        }
    }
    let mut response = next.call(req).await?;
    if let Some(origin) = cors {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(response.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_of_data_need_the_token_only_beyond_loopback() {
        assert!(!needs_token(&Method::GET, "/api/v1/engines", true));
        assert!(needs_token(&Method::GET, "/api/v1/engines", false));
        assert!(needs_token(&Method::GET, "/metrics", false));
        assert!(!needs_token(&Method::GET, "/", false));
        assert!(!needs_token(&Method::GET, "/assets/app.js", false));
        assert!(needs_token(&Method::POST, "/api/v1/engines/a/pause", true));
    }

    #[test]
    fn the_bucket_refills_at_the_rate() {
        let l = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let ip = IpAddr::from([127, 0, 0, 1]);
        let t0 = Instant::now();
        assert!((0..3).all(|_| l.allow(ip, t0)));
        assert!(!l.allow(ip, t0));
        assert!(l.allow(ip, t0 + Duration::from_millis(500)));
        assert!(!l.allow(ip, t0 + Duration::from_millis(500)));
        // Another address has its own bucket.
        assert!(l.allow(IpAddr::from([127, 0, 0, 2]), t0));
    }
}
