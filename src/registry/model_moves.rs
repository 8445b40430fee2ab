//! Moving a bot's champion model, or its serving variant, while its engine
//! runs: the engine's training pipeline holds the bot's model-registry lock
//! for as long as it runs, and its variant pipeline owns the bot's variants
//! (and writes them after every cycle), so an activation, a rollback, a
//! promotion or a retirement asked for by an operator (the API, the CLI
//! through the API) goes to that engine as a
//! [`ChangeModel`](crate::engine::ChangeModel) or
//! [`ChangeVariant`](crate::engine::ChangeVariant) message. A model move is
//! made between two training cycles and the next cycle serves the new
//! champion; a variant change is made at once and the next cycle runs it.

use actix::prelude::*;

use super::{ImprovementEngineRegistry, RegistryHandle};
use crate::engine::{ChangeModel, ChangeVariant, SelfImprovementEngine};
use crate::models::AliasMove;
use crate::training::ModelAction;
use crate::variants::{VariantAction, VariantEvent, Variants};
use crate::{Error, Result};

impl RegistryHandle {
    /// Activates a version of `bot`'s model, or rolls it back, through the
    /// live engine that looks after `bot` (the one named after it first),
    /// recording `reason` in the alias history.
    ///
    /// Errors: [`Error::UnknownEngine`] when no live engine looks after
    /// `bot`; [`Error::NoModels`] when that engine does not run the
    /// training pipeline; [`Error::Models`] for the move itself (an unknown
    /// version, the version already serving, nothing to roll back to).
    pub async fn change_model(
        &self,
        bot: &str,
        action: ModelAction,
        reason: impl Into<String>,
    ) -> Result<AliasMove> {
        self.bot_engine(bot)
            .await?
            .send(ChangeModel {
                action,
                reason: reason.into(),
            })
            .await
            .map_err(|_| Error::NotRunning(format!("the engine of bot {bot}")))?
    }

    /// Promotes or retires one of `bot`'s variants through the live engine
    /// that looks after `bot`; answers the event and the variants after it.
    ///
    /// Errors: [`Error::UnknownEngine`] when no live engine looks after
    /// `bot`; [`Error::NoVariants`] when its bot has no `[variants]` table;
    /// [`Error::UnknownVariant`] and [`Error::VariantRefused`] for the
    /// change itself (nothing changes).
    pub async fn change_variant(
        &self,
        bot: &str,
        action: VariantAction,
    ) -> Result<(VariantEvent, Variants)> {
        self.bot_engine(bot)
            .await?
            .send(ChangeVariant(action))
            .await
            .map_err(|_| Error::NotRunning(format!("the engine of bot {bot}")))?
    }

    /// The live engine that looks after `bot`.
    async fn bot_engine(&self, bot: &str) -> Result<Addr<SelfImprovementEngine>> {
        self.addr
            .send(BotEngine(bot.to_string()))
            .await
            .map_err(|_| Error::NotRunning("the registry".into()))?
            .ok_or_else(|| Error::UnknownEngine {
                name: bot.to_string(),
            })
    }
}

/// The live engine of a bot: the one named after it, else the first whose
/// bot it is.
struct BotEngine(String);
impl Message for BotEngine {
    type Result = Option<Addr<SelfImprovementEngine>>;
}
impl Handler<BotEngine> for ImprovementEngineRegistry {
    type Result = Option<Addr<SelfImprovementEngine>>;
    fn handle(&mut self, msg: BotEngine, _: &mut Self::Context) -> Self::Result {
        let bot = msg.0.as_str();
        let live = |e: &super::Entry| e.addr.clone().filter(|_| e.failed.is_none());
        self.entries
            .get(bot)
            .filter(|e| &*e.bot == bot)
            .and_then(live)
            .or_else(|| {
                self.entries
                    .values()
                    .filter(|e| &*e.bot == bot)
                    .find_map(live)
            })
    }
}
