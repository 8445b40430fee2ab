//! `kaizen bench` (being built in its own change).

/// Arguments of `kaizen bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Runs `kaizen bench`.
pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("kaizen bench is not built yet")
}
