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
}
