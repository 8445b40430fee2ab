//! Instructions per tick, counted by `perf stat` where the machine exposes
//! hardware counters, else by callgrind (valgrind), else not at all.
//!
//! Each count runs `kaizen bench --part …` twice in a child process, with
//! [`ROUNDS`]`.0` and [`ROUNDS`]`.1` timed rounds after the same fixed
//! warm-up; the difference of the two totals divided by the extra ticks is
//! the cost of a tick, with the start, the warm-up and the shutdown taken
//! out. Write-behind saves are driven by time, not by ticks (and a program
//! under callgrind runs ~50× slower), so a counted write-behind run uses a
//! one-hour window: the count is the tick path alone. Per-cycle saves are
//! part of every cycle and are counted.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

use super::{BenchArgs, Mode, Part};

/// The timed rounds of the two runs whose difference is counted.
pub const ROUNDS: (usize, usize) = (5, 15);

/// What counts instructions here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    /// `perf stat -e instructions:u`.
    Perf,
    /// `valgrind --tool=callgrind`.
    Callgrind,
}

impl Counter {
    /// The first counter that works on this machine.
    pub fn find() -> Option<Counter> {
        let perf = Command::new("perf")
            .args(["stat", "-x", ",", "-e", "instructions:u", "--", "true"])
            .output();
        if let Ok(out) = perf
            && out.status.success()
            && perf_total(&String::from_utf8_lossy(&out.stderr)).is_some()
        {
            return Some(Counter::Perf);
        }
        let valgrind = Command::new("valgrind").arg("--version").output();
        match valgrind {
            Ok(out) if out.status.success() => Some(Counter::Callgrind),
            _ => None,
        }
    }

    /// Instructions one run of `args` (a `kaizen bench --part` command line)
    /// executes, counted in `scratch`.
    fn total(self, exe: &Path, args: &[String], scratch: &Path) -> Result<u64> {
        let out_file = scratch.join("count.out");
        let mut cmd = match self {
            Counter::Perf => {
                let mut c = Command::new("perf");
                c.args(["stat", "-x", ",", "-e", "instructions:u", "-o"])
                    .arg(&out_file)
                    .arg("--");
                c
            }
            Counter::Callgrind => {
                let mut c = Command::new("valgrind");
                c.arg("--tool=callgrind")
                    .arg(format!("--callgrind-out-file={}", out_file.display()));
                c
            }
        };
        let status = cmd
            .arg(exe)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .with_context(|| format!("cannot start {self:?}"))?;
        if !status.success() {
            bail!(
                "the counted run failed ({status}): kaizen {}",
                args.join(" ")
            );
        }
        let text = std::fs::read_to_string(&out_file)
            .with_context(|| format!("cannot read {}", out_file.display()))?;
        let total = match self {
            Counter::Perf => perf_total(&text),
            Counter::Callgrind => callgrind_total(&text),
        };
        total.with_context(|| format!("no instruction count in {}", out_file.display()))
    }
}

/// The count in `perf stat -x ,` output: the first field of the
/// `instructions` line.
fn perf_total(csv: &str) -> Option<u64> {
    csv.lines()
        .find(|l| l.contains("instructions"))?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The `totals:` (or `summary:`) line of a callgrind output file.
fn callgrind_total(profile: &str) -> Option<u64> {
    profile.lines().find_map(|l| {
        l.strip_prefix("totals:")
            .or_else(|| l.strip_prefix("summary:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// The command line of one counted run of `part`.
fn part_args(args: &BenchArgs, part: Part, rounds: usize) -> Vec<String> {
    let window = match args.persistence {
        Mode::WriteBehind => "1h".to_string(),
        Mode::PerCycle | Mode::None => format!("{}ms", args.window.as_millis()),
    };
    vec![
        "bench".into(),
        "--part".into(),
        name(&part),
        "--engines".into(),
        args.engines.to_string(),
        "--ticks".into(),
        rounds.to_string(),
        "--learner".into(),
        name(&args.learner),
        "--persistence".into(),
        name(&args.persistence),
        "--window".into(),
        window,
    ]
}

/// Clap's name of a value (`per-cycle`, …).
fn name<T: clap::ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
}

/// Instructions per tick of `part`, with `counter`.
pub fn per_tick(counter: Counter, args: &BenchArgs, part: Part) -> Result<f64> {
    let exe = std::env::current_exe().context("cannot find the kaizen executable")?;
    let scratch = tempfile_dir()?;
    let run = |rounds| counter.total(&exe, &part_args(args, part, rounds), &scratch);
    let counted = run(ROUNDS.0).and_then(|short| Ok((short, run(ROUNDS.1)?)));
    let _ = std::fs::remove_dir_all(&scratch);
    let (short, long) = counted?;
    let ticks = (ROUNDS.1 - ROUNDS.0) * args.engines;
    Ok(long.saturating_sub(short) as f64 / ticks as f64)
}

/// A fresh folder for the counters' output files.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kaizen-count-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_perf_and_callgrind_totals() {
        let perf = "# started on Mon\n\n123456789,,instructions:u,1000,100.00,,\n";
        assert_eq!(perf_total(perf), Some(123_456_789));
        assert_eq!(
            perf_total("<not supported>,,instructions:u,0,100.00,,"),
            None
        );
        let cg = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=(1) main\n3 10\nsummary: 987654\ntotals: 987654\n";
        assert_eq!(callgrind_total(cg), Some(987_654));
    }
}
