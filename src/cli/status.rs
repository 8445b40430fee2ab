//! `kaizen status` (being built in its own change).

/// Arguments of `kaizen status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

/// Runs `kaizen status`.
pub fn run(_args: StatusArgs) -> anyhow::Result<()> {
    anyhow::bail!("kaizen status is not built yet")
}
