//! kaizen as a child subreaper: orphans of its pipelines become its own.
//!
//! A pipeline's program may leave processes behind that left its process
//! group (`setsid`). Without help they would be adopted by init and outlive
//! kaizen. With [`become_subreaper`] (Linux `PR_SET_CHILD_SUBREAPER`) they
//! are adopted by kaizen instead: [`reap_adopted`] waits for those that
//! have exited (call it when `SIGCHLD` arrives), and [`kill_adopted`] kills
//! the rest when kaizen stops. `PR_SET_PDEATHSIG` alone would not do: it
//! misses grandchildren, and it fires when the *thread* that spawned the
//! child exits.
//!
//! Children a pipeline is still waiting for (their group is
//! [running](super::groups::is_running)) are never waited for here, so the
//! pipeline gets its program's exit status.

/// Makes this process a child subreaper (Linux; elsewhere nothing happens).
pub fn become_subreaper() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
    }
    Ok(())
}

/// This process's children, from `/proc/self/task/*/children` (Linux).
pub fn children() -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return pids;
    };
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Children that no pipeline waits for.
fn adopted() -> impl Iterator<Item = rustix::process::Pid> {
    children()
        .into_iter()
        .filter(|&pid| !super::groups::is_running(pid))
        .filter_map(rustix::process::Pid::from_raw)
}

/// Waits for every adopted child that has exited; returns how many. Does
/// nothing while a pipeline is starting its program (the next child's exit
/// asks again).
pub fn reap_adopted() -> usize {
    let Some(_quiet) = super::groups::no_spawns_now() else {
        return 0;
    };
    adopted()
        .filter(|&pid| {
            matches!(
                rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG),
                Ok(Some(_))
            )
        })
        .count()
}

/// Kills every adopted child and its process group (unless that is
/// kaizen's own), then waits for them; returns how many there were.
pub fn kill_adopted() -> usize {
    use rustix::process::{Signal, WaitOptions, getpgid, kill_process, kill_process_group};
    let own = getpgid(None).ok();
    let _quiet = super::groups::no_spawns();
    let pids: Vec<_> = adopted().collect();
    for &pid in &pids {
        match getpgid(Some(pid)) {
            Ok(group) if Some(group) != own => {
                let _ = kill_process_group(group, Signal::KILL);
            }
            _ => {}
        }
        let _ = kill_process(pid, Signal::KILL);
    }
    for &pid in &pids {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    }
    pids.len()
}
