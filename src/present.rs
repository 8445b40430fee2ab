//! How records are shown to people and API clients: every time as RFC 3339
//! (UTC, milliseconds), while state files and the history keep Unix seconds.
//!
//! [`with_rfc3339_times`] serializes any record and rewrites its time fields
//! — the keys [`TIME_KEYS`] holding a floating-point number, and a data
//! window's `times` pair — as RFC 3339 text. kaizen keeps every time as an
//! `f64`, and nothing else under those keys is one (a registry entry's
//! `created` is a whole-number order, and stays a number).
//!
//! ```
//! use kaizen::present::with_rfc3339_times;
//! let v = with_rfc3339_times(&serde_json::json!({"time": 0.0, "created": 3, "inner": {"at": 1.5}}));
//! assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
//! assert_eq!(v["created"], 3);
//! assert_eq!(v["inner"]["at"], "1970-01-01T00:00:01.500Z");
//! ```

use serde::Serialize;
use serde_json::Value;

use crate::history::rfc3339;

/// The keys that hold times in kaizen's records.
pub const TIME_KEYS: &[&str] = &[
    "time",
    "last_run",
    "at",
    "last_change",
    "started",
    "now",
    "created",
    "since",
    "until",
];

/// `value` serialized, its times as RFC 3339 text.
pub fn with_rfc3339_times<T: Serialize + ?Sized>(value: &T) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    rewrite(&mut v);
    v
}

fn as_time(v: &mut Value) {
    if let Some(t) = v
        .as_number()
        .filter(|n| n.is_f64())
        .and_then(|n| n.as_f64())
    {
        *v = Value::String(rfc3339(t));
    }
}

fn rewrite(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if TIME_KEYS.contains(&k.as_str()) {
                    as_time(v);
                } else if k == "times"
                    && let Value::Array(items) = v
                {
                    items.iter_mut().for_each(as_time);
                }
                rewrite(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite),
        _ => {}
    }
}
