//! The `kaizen` command: simulate, run, status, synergy, bench.

mod cli;

fn main() -> std::process::ExitCode {
    // candle's CPU matmul asks for its thread count on every call and, unless
    // RAYON_NUM_THREADS is set, re-reads the CPU mask from /proc each time;
    // kaizen's networks are tiny, so one thread per matmul is also fastest.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: this is the first thing `main` does, before any thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    cli::main()
}
