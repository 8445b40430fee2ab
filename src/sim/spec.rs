//! Engine specs whose pipeline is a bot of the simulated world: the
//! `[pipeline.simulated]` table of an `engines/*.toml` file.
//!
//! [`crate::spec`] keeps the table as written; [`spec_pipeline`] reads it as
//! the bot's [`BotParams`] (every key optional, unknown keys refused),
//! checks them, and makes the bot's one-bot world ([`standalone`]) with the
//! spec's `seed`. Errors name the file and the line of the offending key.
//!
//! ```
//! use kaizen::sim::spec_pipeline;
//! use kaizen::spec::EngineSpec;
//! use std::path::Path;
//!
//! let text = "bot = \"sim\"\n[pipeline]\nseed = 3\n[pipeline.simulated]\nskill = 0.4\n";
//! let spec = EngineSpec::parse(text, Path::new("engines/sim.toml"))?;
//! let pipeline = spec_pipeline(&spec)?.expect("a simulated pipeline");
//! assert_eq!(spec.builder_with(pipeline).name(), "sim");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use super::bot::BotParams;
use super::pipeline::standalone;
use crate::Error;
use crate::pipeline::Pipeline;
use crate::spec::{LoadedSpec, SpecError};

/// The table's key, as errors name it.
const TABLE: &str = "pipeline.simulated";

/// The simulated bot a spec describes, checked; `None` for a spec without a
/// `[pipeline.simulated]` table.
pub fn simulated_params(spec: &LoadedSpec) -> Result<Option<BotParams>, SpecError> {
    let Some(table) = &spec.spec.pipeline.simulated else {
        return Ok(None);
    };
    let params: BotParams =
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                spec.locate(&Error::invalid(
                    TABLE,
                    "a table",
                    format!("the parameters of a simulated bot ({})", e.message().trim()),
                ))
            })?;
    params.validate(TABLE).map_err(|e| spec.locate(&e))?;
    Ok(Some(params))
}

/// The pipeline of a spec's `[pipeline.simulated]` bot, in a world of its own
/// seeded with the spec's `seed`; `None` for a spec without that table (its
/// command pipeline comes from [`LoadedSpec::builder`]).
pub fn spec_pipeline(spec: &LoadedSpec) -> Result<Option<Arc<dyn Pipeline>>, SpecError> {
    let Some(params) = simulated_params(spec)? else {
        return Ok(None);
    };
    let (pipeline, _ledger) =
        standalone(&params, spec.spec.pipeline.seed).map_err(|e| spec.locate(&e))?;
    Ok(Some(Arc::new(pipeline)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::EngineSpec;
    use std::path::Path;

    fn parse(text: &str) -> LoadedSpec {
        EngineSpec::parse(text, Path::new("engines/alpha.toml")).unwrap()
    }

    #[test]
    fn a_simulated_pipeline_needs_no_program() {
        let text = "bot = \"sim\"\n[pipeline]\nseed = 3\n[pipeline.simulated]\nskill = 0.4\ndrift = 0.02\n";
        let s = parse(text);
        assert_eq!(simulated_params(&s).unwrap().unwrap().skill, 0.4);
        let pipeline = spec_pipeline(&s).unwrap().unwrap();
        assert_eq!(s.builder_with(pipeline).name(), "sim");
        let bad = parse("bot = \"sim\"\n[pipeline]\n[pipeline.simulated]\nskill = 4\n");
        let err = spec_pipeline(&bad).err().unwrap();
        assert!(err.message.contains("pipeline.simulated"), "{err}");
        assert_eq!(err.line, Some(4), "{err}");
        let typo = parse("bot = \"sim\"\n[pipeline]\n[pipeline.simulated]\ngian = 0.1\n");
        let err = simulated_params(&typo).unwrap_err();
        assert!(err.message.contains("gian"), "{err}");
        assert_eq!(err.line, Some(3), "{err}");
        let command = parse("bot = \"c\"\n[pipeline]\ncommand = [\"sh\"]\n");
        assert!(spec_pipeline(&command).unwrap().is_none());
    }
}
