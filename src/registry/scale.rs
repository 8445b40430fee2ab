//! The registry's autoscale step: ask every engine for its status, decide
//! with [`autoscale::decide`](crate::autoscale::decide), carry it out.

use actix::prelude::*;
use std::sync::Arc;

use super::{AUTOSCALE_KEPT, ImprovementEngineRegistry};
use crate::autoscale::{
    AutoscaleAction, AutoscaleMode, AutoscaleRequest, Observed, decide, inputs,
};
use crate::decision::{self, AutoscaleRecord, Decision};
use crate::engine::Origin;
use crate::host::Resources;
use crate::snapshot::EngineSnapshot;
use crate::{Error, Result};

impl ImprovementEngineRegistry {
    /// One autoscale decision, carried out unless `dry_run`.
    pub(super) fn autoscale_step(
        &mut self,
        request: AutoscaleRequest,
        ctx: &mut Context<Self>,
    ) -> futures_util::future::LocalBoxFuture<'static, Result<AutoscaleRecord>> {
        if self.stopping {
            return Box::pin(std::future::ready(Err(super::stopping())));
        }
        if self.scaling {
            return Box::pin(std::future::ready(Err(Error::AutoscaleInProgress)));
        }
        self.scaling = true;
        let statuses = self.statuses();
        // Sampled now, before the engines answer, unless the request says.
        let resources = request.resources.unwrap_or_else(|| self.probe.sample());
        let addr = ctx.address();
        Box::pin(async move {
            let statuses = statuses.await;
            addr.send(Decide {
                request,
                resources,
                statuses,
            })
            .await
            .map_err(|_| Error::NotRunning("the registry".into()))?
        })
    }

    fn decide_and_apply(
        &mut self,
        msg: Decide,
        ctx: &mut Context<Self>,
    ) -> Result<AutoscaleRecord> {
        self.scaling = false;
        if self.stopping {
            return Err(super::stopping());
        }
        let config = msg
            .request
            .config
            .clone()
            .unwrap_or_else(|| self.config.autoscale.clone());
        config.validate()?;
        let engines: Vec<Observed<'_>> = msg
            .statuses
            .iter()
            .filter_map(|(name, created, snapshot)| {
                let entry = self.entries.get(name).filter(|e| e.failed.is_none())?;
                Some(Observed {
                    name,
                    created: *created,
                    snapshot: snapshot.as_ref(),
                    // An engine an operator's spec file defines stays.
                    pinned: matches!(entry.builder.origin_of(), Some(Origin::Spec(_))),
                })
            })
            .collect();
        let taken = self
            .entries
            .iter()
            .filter(|(_, e)| e.failed.is_some())
            .map(|(name, _)| name)
            .chain(self.retiring.keys())
            .map(|name| name.to_string())
            .collect();
        let inputs = inputs(
            &engines,
            taken,
            &msg.request,
            || msg.resources,
            self.now(),
            self.last_change,
        );
        let approval = self.approval.clone();
        let approve = approval
            .as_ref()
            .map(|f| f.as_ref() as &dyn Fn(&AutoscaleAction) -> bool);
        let (decision, adaptive) = match config.mode {
            AutoscaleMode::Threshold => (decide(&inputs, &config, approve)?, None),
            AutoscaleMode::Adaptive => {
                let budget = self.budget.clone();
                let budget = move || budget.as_ref().is_none_or(|f| f());
                let (d, stats) =
                    self.baseline
                        .step(&inputs, self.pass_rate, &config, &budget, approve)?;
                (d, Some(stats))
            }
        };
        let mut record = AutoscaleRecord {
            time: inputs.now,
            inputs,
            config: config.clone(),
            decision,
            applied: false,
            error: None,
            adaptive,
        };
        if !config.dry_run {
            let applied = match &record.decision.action {
                AutoscaleAction::Hold => Ok(false),
                AutoscaleAction::Create(name) => match &self.factory {
                    None => Err(Error::NoFactory),
                    Some(factory) => factory(name)
                        .map(|b| b.renamed(name.clone()))
                        .and_then(|b| self.register(b, ctx))
                        .map(|()| true),
                },
                AutoscaleAction::Remove(name) => {
                    self.remove(name, ctx);
                    Ok(true)
                }
            };
            match applied {
                Ok(done) => {
                    record.applied = done;
                    if done {
                        self.last_change = Some(record.time);
                    }
                }
                Err(e) => record.error = Some(e.to_string()),
            }
        }
        self.autoscale_log.push_back(record.clone());
        while self.autoscale_log.len() > AUTOSCALE_KEPT {
            self.autoscale_log.pop_front();
        }
        decision::publish(Some(&self.events), Decision::Autoscale(record.clone()));
        self.registry_changed(ctx);
        Ok(record)
    }
}

/// The registry asks itself to decide once the statuses are in.
struct Decide {
    request: AutoscaleRequest,
    resources: Resources,
    statuses: Vec<(Arc<str>, u64, Option<EngineSnapshot>)>,
}

impl Message for Decide {
    type Result = Result<AutoscaleRecord>;
}

impl Handler<Decide> for ImprovementEngineRegistry {
    type Result = Result<AutoscaleRecord>;
    fn handle(&mut self, msg: Decide, ctx: &mut Self::Context) -> Self::Result {
        self.decide_and_apply(msg, ctx)
    }
}
