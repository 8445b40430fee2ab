//! `kaizen simulate` (being built in its own change).

/// Arguments of `kaizen simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

/// Runs `kaizen simulate`.
pub fn run(_args: SimulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("kaizen simulate is not built yet")
}
