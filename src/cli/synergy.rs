//! `kaizen synergy` (being built in its own change).

/// Arguments of `kaizen synergy`.
#[derive(Debug, clap::Args)]
pub struct SynergyArgs {}

/// Runs `kaizen synergy`.
pub fn run(_args: SynergyArgs) -> anyhow::Result<()> {
    anyhow::bail!("kaizen synergy is not built yet")
}
