//! `GET /api/v1/variants`: every bot's variants as its engine last saved
//! them (`state/<bot>/variants.json`, the file `kaizen report`'s variants
//! section and `kaizen abtest status` read): the serving variant, the
//! population's size and generation, the promotions so far, and the running
//! A/B test's state at now (its evidence against the threshold, the
//! uplift's confidence sequence — `null` for an unbounded end — and the
//! decision). The dashboard's variants panel shows it. A file that cannot
//! be read is listed with why, in place of its numbers.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use std::path::Path;

use super::AppState;
use super::api::Reply;
use super::error::ApiError;
use crate::persist::{Inspected, inspect_json};
use crate::variants::Variants;

/// A bot's variants file in its state folder.
const FILE: &str = "variants.json";

pub(super) async fn list(state: web::Data<AppState>) -> Reply {
    let Some(root) = state.parts.state_root.clone() else {
        return Ok(HttpResponse::Ok().json(json!({ "bots": [] })));
    };
    let now = state.parts.clock.now();
    let bots = web::block(move || read_all(&root, now))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({ "bots": bots })))
}

/// Each bot folder of `root` holding a variants file, by name.
fn read_all(root: &Path, now: f64) -> Vec<Value> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(FILE).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| crate::engine::validate_name("bot", name).is_ok())
        .collect();
    names.sort();
    names
        .iter()
        .map(|bot| summary(bot, &root.join(bot).join(FILE), now))
        .collect()
}

/// One bot's line of the answer.
fn summary(bot: &str, file: &Path, now: f64) -> Value {
    let error = match inspect_json::<Variants>(file) {
        Inspected::Good { value: v, .. } => {
            let test = v.test().map(|t| {
                json!({"serving": t.serving, "challenger": t.challenger, "status": t.status(now)})
            });
            return json!({
                "bot": bot,
                "serving": v.serving(),
                "members": v.population().members().len(),
                "generation": v.population().generation(),
                "promotions": v.promotions(),
                "test": test,
            });
        }
        Inspected::Missing => format!("no {FILE}"),
        Inspected::Corrupt(why) => format!("{FILE} is corrupt: {why}"),
        Inspected::Newer(version) => {
            format!("{FILE} was written by a newer kaizen (version {version})")
        }
    };
    json!({ "bot": bot, "error": error })
}
