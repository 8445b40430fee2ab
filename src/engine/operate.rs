//! What an operator or a host asks of a running engine between its cycles:
//! its snapshot, a model or variant change, pause and resume, metrics and
//! synergy weights.

use actix::prelude::*;
use std::sync::Arc;

use super::SelfImprovementEngine;
use super::messages::*;
use crate::models::AliasMove;
use crate::snapshot::EngineSnapshot;
use crate::variants::{VariantEvent, Variants};
use crate::{Error, Result};

impl Handler<Status> for SelfImprovementEngine {
    type Result = MessageResult<Status>;

    fn handle(&mut self, _: Status, _: &mut Self::Context) -> Self::Result {
        MessageResult(EngineSnapshot {
            busy: self.phase.cycling(),
            training: self.wiring.training.as_ref().map(|t| t.status()),
            ..self.core.snapshot()
        })
    }
}

impl Handler<ChangeModel> for SelfImprovementEngine {
    type Result = ResponseFuture<Result<AliasMove>>;

    fn handle(&mut self, msg: ChangeModel, _: &mut Self::Context) -> Self::Result {
        let Some(training) = self.wiring.training.clone() else {
            let engine = self.core.name().to_string();
            return Box::pin(async move { Err(Error::NoModels { engine }) });
        };
        // The change waits for a training cycle under way.
        off_thread("model change", move || {
            training
                .change_model(msg.action, &msg.reason)
                .map_err(Error::from)
        })
    }
}

impl Handler<ChangeVariant> for SelfImprovementEngine {
    type Result = ResponseFuture<Result<(VariantEvent, Variants)>>;

    fn handle(&mut self, msg: ChangeVariant, _: &mut Self::Context) -> Self::Result {
        let pipeline = Arc::clone(&self.wiring.pipeline);
        let engine = self.core.name().to_string();
        // The change saves the variants' file (fsync).
        off_thread("variant change", move || {
            match pipeline.variant_pipeline() {
                Some(variants) => variants.change(msg.0),
                None => Err(Error::NoVariants { engine }),
            }
        })
    }
}

/// Runs `change` on a blocking thread, not the engine's: it may wait for a
/// training cycle or a disk. A panic in it is an [`Error::Panicked`].
fn off_thread<T: Send + 'static>(
    what: &'static str,
    change: impl FnOnce() -> Result<T> + Send + 'static,
) -> ResponseFuture<Result<T>> {
    Box::pin(async move {
        tokio::task::spawn_blocking(change)
            .await
            .map_err(|e| Error::Panicked {
                what,
                message: e.to_string(),
            })?
    })
}

impl Handler<Pause> for SelfImprovementEngine {
    type Result = ();
    fn handle(&mut self, _: Pause, ctx: &mut Self::Context) {
        self.core.set_paused(true);
        self.save_detached(ctx);
    }
}

impl Handler<Resume> for SelfImprovementEngine {
    type Result = ();
    fn handle(&mut self, _: Resume, ctx: &mut Self::Context) {
        self.core.set_paused(false);
        self.save_detached(ctx);
    }
}

impl Handler<RecordMetrics> for SelfImprovementEngine {
    type Result = Result<bool>;
    fn handle(&mut self, msg: RecordMetrics, ctx: &mut Self::Context) -> Result<bool> {
        let known = self.core.record_metric(&msg.name, msg.value)?;
        self.save_detached(ctx);
        Ok(known)
    }
}

impl Handler<SetWeights> for SelfImprovementEngine {
    type Result = Result<()>;
    fn handle(&mut self, msg: SetWeights, ctx: &mut Self::Context) -> Result<()> {
        self.core.set_weights(msg.0)?;
        self.save_detached(ctx);
        Ok(())
    }
}
