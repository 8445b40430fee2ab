//! `GET /api/v1/decisions`: the decision stream as Server-Sent Events.
//!
//! Each item is one event: `event:` its type (`cycle`, `autoscale`,
//! `engine`, `alert`), `data:` the record as JSON with RFC 3339 times. A
//! comment line every 15 s keeps proxies from closing a quiet stream. A
//! client that falls more than the stream's capacity behind gets a `lagged`
//! event saying how many items it missed. `?bot=B` keeps one bot's items
//! (and the fleet's), `?skips=false` leaves out skipped ticks.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::api::Reply;
use crate::decision::Decision;
use crate::present::with_rfc3339_times;
use crate::record::CycleAction;

/// How often a quiet stream gets a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The query of the stream.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filter {
    bot: Option<String>,
    skips: Option<bool>,
}

impl Filter {
    fn wants(&self, d: &Decision) -> bool {
        match d {
            Decision::Cycle(r) => {
                (self.skips != Some(false) || r.action == CycleAction::Run)
                    && self.bot.as_deref().is_none_or(|b| *r.bot == *b)
            }
            Decision::Engine(e) => self.bot.as_deref().is_none_or(|b| *e.engine == *b),
            Decision::Alert(a) => self
                .bot
                .as_deref()
                .is_none_or(|b| a.bot.as_deref().is_none_or(|x| x == b)),
            Decision::Variant(v) => self.bot.as_deref().is_none_or(|b| v.bot == b),
            Decision::Autoscale(_) => true,
        }
    }
}

/// One event's text.
pub(super) fn event(d: &Decision) -> String {
    let kind = match d {
        Decision::Cycle(_) => "cycle",
        Decision::Autoscale(_) => "autoscale",
        Decision::Engine(_) => "engine",
        Decision::Alert(_) => "alert",
        Decision::Variant(_) => "variant",
    };
    format!("event: {kind}\ndata: {}\n\n", with_rfc3339_times(d))
}

pub(super) async fn decisions(state: web::Data<AppState>, filter: web::Query<Filter>) -> Reply {
    if let Some(bot) = &filter.bot {
        super::api::checked_bot(bot)?;
    }
    let receiver = state.parts.registry.subscribe();
    let filter = filter.into_inner();
    let stream = futures_util::stream::unfold(
        (receiver, filter, true),
        |(mut rx, filter, first)| async move {
            if first {
                // Opens the stream at once, so a client knows it is subscribed.
                let hello =
                    web::Bytes::from_static(b": subscribed to the kaizen decision stream\n\n");
                return Some((Ok::<_, actix_web::Error>(hello), (rx, filter, false)));
            }
            loop {
                match tokio::time::timeout(KEEP_ALIVE, rx.recv()).await {
                    Err(_) => {
                        return Some((
                            Ok(web::Bytes::from_static(b": keep-alive\n\n")),
                            (rx, filter, false),
                        ));
                    }
                    Ok(Ok(d)) if filter.wants(&d) => {
                        return Some((Ok(web::Bytes::from(event(&d))), (rx, filter, false)));
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(RecvError::Lagged(n))) => {
                        let text = format!("event: lagged\ndata: {{\"missed\":{n}}}\n\n");
                        return Some((Ok(web::Bytes::from(text)), (rx, filter, false)));
                    }
                    Ok(Err(RecvError::Closed)) => return None,
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
