//! A change sent to the `kaizen run` that holds the state folder, through
//! the control API it recorded in `state/.kaizen/server.json`, with the
//! token of `KAIZEN_TOKEN` or `state/.kaizen/token`: `kaizen models
//! activate|rollback` and `kaizen variants promote|retire` while a run owns
//! what they change. Refused, saying what to do, when the run serves no API.

use anyhow::{Result, bail};
use std::path::Path;

/// The API's answer to a change.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub struct Answer {
    /// Who made it, in words: `kaizen (pid N)`.
    pub run: String,
    /// The URL called.
    pub url: String,
    /// The answer's JSON.
    pub value: serde_json::Value,
    /// The answer as it came.
    pub text: String,
}

/// The run that holds the state folder, in words.
fn run_name(holder: Option<u32>) -> String {
    holder.map_or_else(
        || "a running kaizen".into(),
        |p| format!("kaizen (pid {p})"),
    )
}

/// Without the server feature, there is no API to call.
#[cfg(not(feature = "server"))]
pub fn post(state: &Path, holder: Option<u32>, _: &str, _: &str, _: &str) -> Result<Answer> {
    bail!(
        "refused: {} holds the state folder {}; stop it and run this again",
        run_name(holder),
        state.display()
    )
}

/// POSTs `body` (JSON) to `path` (`/api/v1/…`) of the run (pid `holder`)
/// that holds `state`. A run that serves no API is refused with a message
/// saying to start it with `--listen` (`purpose`: what that allows, e.g.
/// `to move models while it runs`); an answer other than 200 is an error
/// quoting the API's message; no token here is an error giving the call
/// to make by hand.
#[cfg(feature = "server")]
pub fn post(
    state: &Path,
    holder: Option<u32>,
    path: &str,
    body: &str,
    purpose: &str,
) -> Result<Answer> {
    use anyhow::Context;
    use kaizen::server::{ServerAddress, auth};
    let run = run_name(holder);
    let Some(server) = ServerAddress::find(state).filter(|s| holder.is_none_or(|p| p == s.pid))
    else {
        bail!(
            "refused: {run} holds the state folder {} and serves no control API to take the \
             change (start it with --listen {purpose}); stop it and run this again",
            state.display()
        );
    };
    let url = format!("http://{}{path}", server.listen);
    let by_hand = format!(
        "curl -X POST -H \"Authorization: Bearer $KAIZEN_TOKEN_SECRET\" -H 'Content-Type: application/json' -d '{body}' {url}"
    );
    let token = auth::load(state, std::env::var(auth::TOKEN_ENV).ok())?.with_context(|| {
        format!(
            "{run} serves its API on {}, but there is no token here ({} unset, no {}/.kaizen/token); \
             with the run's token, the call is:\n  {by_hand}",
            server.listen,
            auth::TOKEN_ENV,
            state.display()
        )
    })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut answer = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {}", token.secret()))
        .header("Content-Type", "application/json")
        .send(body)
        .with_context(|| {
            format!("{run} holds the state folder but its API at {url} did not answer; the call is:\n  {by_hand}")
        })?;
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string()?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("the answer of {url} is not JSON: {text}"))?;
    if status != 200 {
        let message = value["error"]["message"].as_str().unwrap_or(&text);
        bail!("{run} refused the change ({status}): {message}");
    }
    Ok(Answer {
        run,
        url,
        value,
        text,
    })
}
