//! How busy the machine was: the share of its CPU time that other processes took while a scenario
//! ran. Benchmark machines are shared; a ratio measured while something else compiles is worth less,
//! and this says when that happened.

/// CPU counters at one moment, in clock ticks.
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    /// Ticks any CPU spent busy (user, system, interrupts, stolen by the hypervisor).
    busy: u64,
    /// Ticks of all CPUs, busy or idle.
    total: u64,
    /// Ticks this process spent running (all its threads).
    own: u64,
}

impl CpuSample {
    /// The counters now, where `/proc` has them (Linux).
    pub fn now() -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> =
            stat.lines().next()?.split_whitespace().skip(1).map(|field| field.parse().unwrap_or(0)).collect();
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let field = |index: usize| fields.get(index).copied().unwrap_or(0);
        let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
        let total = busy + field(3) + field(4);
        let own_stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name may hold spaces: fields are counted after its closing parenthesis.
        let after_name: Vec<&str> = own_stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let own = after_name.get(11)?.parse::<u64>().ok()? + after_name.get(12)?.parse::<u64>().ok()?;
        Some(CpuSample { busy, total, own })
    }

    /// Shares (0 to 1) of the machine's CPU time between `self` and `later` used by other processes
    /// and by this one.
    pub fn shares_until(&self, later: &CpuSample) -> Option<(f64, f64)> {
        let total = later.total.checked_sub(self.total).filter(|total| *total > 0)? as f64;
        let busy = later.busy.saturating_sub(self.busy) as f64;
        let own = later.own.saturating_sub(self.own) as f64;
        Some((((busy - own) / total).clamp(0.0, 1.0), (own / total).clamp(0.0, 1.0)))
    }
}

/// CPU time used so far by this process's threads, summed by thread name (Linux; empty elsewhere).
#[derive(Clone, Debug, Default)]
pub struct ThreadCpu {
    /// Clock ticks (user + system) by thread name, as `/proc` shows names (at most 15 bytes).
    ticks: std::collections::BTreeMap<String, u64>,
    taken: Option<std::time::Instant>,
}

/// Clock ticks per second in `/proc` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

impl ThreadCpu {
    /// The counters now. Threads that exit before the next sample take their time with them, so
    /// compare samples taken while the threads of interest are alive.
    pub fn now() -> ThreadCpu {
        let mut ticks = std::collections::BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
                let Some((head, tail)) = stat.rsplit_once(')') else { continue };
                let Some((_, name)) = head.split_once('(') else { continue };
                let fields: Vec<&str> = tail.split_whitespace().collect();
                let used = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok()).unwrap_or(0);
                *ticks.entry(name.to_owned()).or_default() += used(11) + used(12);
            }
        }
        ThreadCpu { ticks, taken: Some(std::time::Instant::now()) }
    }

    /// Cores used on average by each thread name between `self` and `later` (names that used none
    /// are left out), busiest first.
    pub fn cores_until(&self, later: &ThreadCpu) -> Vec<(String, f64)> {
        let (Some(start), Some(end)) = (self.taken, later.taken) else { return Vec::new() };
        let seconds = end.duration_since(start).as_secs_f64();
        if seconds <= 0.0 {
            return Vec::new();
        }
        let mut cores: Vec<(String, f64)> = later
            .ticks
            .iter()
            .map(|(name, &ticks)| {
                let before = self.ticks.get(name).copied().unwrap_or(0);
                (name.clone(), ticks.saturating_sub(before) as f64 / TICKS_PER_SECOND / seconds)
            })
            .filter(|(_, cores)| *cores > 0.0)
            .collect();
        cores.sort_by(|a, b| b.1.total_cmp(&a.1));
        cores
    }
}

/// Where the CPU went while a measurement ran.
#[derive(Clone, Debug, Default)]
pub struct CpuUse {
    /// Cores used by this process's threads, by thread name (the writer is `colony-writer`).
    pub cores: Vec<(String, f64)>,
    /// The share of the machine's CPU other processes took.
    pub others: Option<f64>,
}

impl CpuUse {
    /// `cores used: name 0.52, ...; other processes took N% of the machine`.
    pub fn summary(&self) -> String {
        let threads: Vec<String> = self
            .cores
            .iter()
            .filter(|(_, cores)| *cores >= 0.01)
            .map(|(name, cores)| format!("{name} {cores:.2}"))
            .collect();
        format!("cores used: {}{}", threads.join(", "), self.others_clause())
    }

    /// `; other processes took N% of the machine`, or nothing without a reading.
    pub fn others_clause(&self) -> String {
        self.others
            .map_or_else(String::new, |others| format!("; other processes took {:.0}% of the machine", others * 100.0))
    }
}

/// The counters at the start of a measurement.
pub struct CpuWindow {
    machine: Option<CpuSample>,
    threads: ThreadCpu,
}

impl CpuWindow {
    /// Starts counting.
    pub fn start() -> CpuWindow {
        CpuWindow { machine: CpuSample::now(), threads: ThreadCpu::now() }
    }

    /// Where the CPU went since the start.
    pub fn finish(&self) -> CpuUse {
        let cores = self.threads.cores_until(&ThreadCpu::now());
        let others = self
            .machine
            .as_ref()
            .zip(CpuSample::now())
            .and_then(|(before, after)| before.shares_until(&after))
            .map(|(others, _)| others);
        CpuUse { cores, others }
    }
}

/// This process's resident memory now (`VmRSS`), in MiB.
pub fn resident_mib() -> Option<f64> {
    status_kib("VmRSS:").map(|kib| kib as f64 / 1024.0)
}

/// This process's peak resident memory so far (`VmHWM`), in MiB.
pub fn peak_resident_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|kib| kib as f64 / 1024.0)
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// The argument that makes the benchmark binary measure a state's memory instead of running a
/// scenario (see [`state_resident_mib`]).
pub const STATE_MEMORY_ARGUMENT: &str = "__state-memory";

/// The resident memory a state takes on its own: the benchmark binary is started again on a file
/// holding the state's snapshot, decodes it as recovery does, drops the snapshot's bytes and reports
/// how much its resident memory grew. Nothing else lives in that process (no client, no log, no
/// events, nothing freed and kept by the allocator), so this is the server's own share, where the
/// measuring process's growth counts everything it ever allocated.
pub fn state_resident_mib(snapshot: &[u8]) -> Result<f64, String> {
    let file = tempfile::NamedTempFile::new().map_err(|error| format!("snapshot file: {error}"))?;
    std::fs::write(file.path(), snapshot).map_err(|error| format!("snapshot file: {error}"))?;
    let binary = std::env::current_exe().map_err(|error| format!("the benchmark's own binary: {error}"))?;
    let output = std::process::Command::new(binary)
        .arg(STATE_MEMORY_ARGUMENT)
        .arg(file.path())
        .output()
        .map_err(|error| format!("starting the measuring process: {error}"))?;
    if !output.status.success() {
        return Err(format!("the measuring process failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|error| format!("the measuring process's answer: {error}"))
}

/// The measuring process's side of [`state_resident_mib`]: prints the growth in MiB on stdout.
pub fn measure_state_resident(snapshot_path: &std::path::Path) -> Result<(), String> {
    let before = resident_mib().ok_or("no resident memory reading (/proc/self/status)")?;
    let bytes = std::fs::read(snapshot_path).map_err(|error| format!("reading the snapshot: {error}"))?;
    let state = colony_core::State::decode_snapshot(&bytes).map_err(|error| format!("decoding: {error:?}"))?;
    drop(bytes);
    let after = resident_mib().ok_or("no resident memory reading")?;
    println!("{:.1}", after - before);
    drop(state);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_fractions_of_the_elapsed_cpu_time() {
        let before = CpuSample { busy: 100, total: 400, own: 10 };
        let after = CpuSample { busy: 250, total: 600, own: 60 };
        let (others, own) = before.shares_until(&after).unwrap();
        assert!((others - 0.5).abs() < 1e-9);
        assert!((own - 0.25).abs() < 1e-9);
        assert!(before.shares_until(&before).is_none());
    }

    #[test]
    fn the_counters_can_be_read_here() {
        if cfg!(target_os = "linux") {
            assert!(CpuSample::now().is_some());
        }
    }

    #[test]
    fn thread_cpu_names_this_thread() {
        if cfg!(target_os = "linux") {
            let before = ThreadCpu::now();
            assert!(!before.ticks.is_empty());
            let started = std::time::Instant::now();
            let mut spin = 0u64;
            while started.elapsed() < std::time::Duration::from_millis(60) {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
            let cores = before.cores_until(&ThreadCpu::now());
            assert!(cores.iter().all(|(_, cores)| *cores >= 0.0));
        }
    }
}
