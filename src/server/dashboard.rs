//! The dashboard's page and assets, embedded in the binary (no CDN, no
//! chart library: plain JavaScript drawing small SVG charts).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::ApiError;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// A policy that lets the page load only its own assets and talk to its own origin.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";

pub(super) async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(INDEX)
}

pub(super) async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, kind) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        other => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                "no_asset",
                format!("no asset {other:?}; there are app.js and app.css"),
            ));
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body))
}
