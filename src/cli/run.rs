//! `kaizen run` (being built in its own change).

/// Arguments of `kaizen run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {}

/// Runs `kaizen run`.
pub fn run(_args: RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("kaizen run is not built yet")
}
