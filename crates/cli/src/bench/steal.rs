//! How much CPU time the host took away while a measurement ran: the
//! *steal* time a virtual machine's kernel counts in `/proc/stat`. On a
//! shared host it explains runs that are slow for no reason of their
//! own; the compare run reports it next to its figures.

/// The machine's CPU time counters (all CPUs together, in clock ticks)
/// at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Every state's ticks together.
    total: u64,
    /// Ticks stolen by the hypervisor.
    steal: u64,
}

impl CpuTimes {
    /// Reads the counters now; `None` where `/proc/stat` is missing or
    /// unreadable (not Linux).
    pub fn now() -> Option<CpuTimes> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Parses the aggregate `cpu` line of `/proc/stat`: user, nice,
    /// system, idle, iowait, irq, softirq, steal (guest time is already
    /// inside user and nice, so it is not added again).
    fn parse(stat: &str) -> Option<CpuTimes> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let steal = *ticks.get(7)?;
        Some(CpuTimes {
            total: ticks.iter().sum(),
            steal,
        })
    }

    /// The share of CPU time stolen between `self` and `later`, in
    /// percent; `None` if no time passed.
    pub fn steal_percent_until(&self, later: &CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        let steal = later.steal.checked_sub(self.steal)?;
        (total > 0).then(|| steal as f64 * 100.0 / total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_its_share_of_all_ticks_between_two_readings() {
        let before = CpuTimes::parse(
            "cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\nintr 1 2\n",
        )
        .unwrap();
        let after = CpuTimes::parse("cpu  200 0 100 900 10 0 10 135 20 0\n").unwrap();
        // 100 + 50 + 100 + 5 + 100 ticks passed, 100 of them stolen.
        assert_eq!(
            before.steal_percent_until(&after),
            Some(100.0 * 100.0 / 355.0)
        );
        assert_eq!(before.steal_percent_until(&before), None);
    }

    #[test]
    fn a_malformed_or_short_cpu_line_reads_as_nothing() {
        assert_eq!(CpuTimes::parse("cpu0 1 2 3 4 5 6 7 8\n"), None);
        assert_eq!(CpuTimes::parse("cpu  1 2 3 4 5 6 7\n"), None);
        assert_eq!(CpuTimes::parse("cpu  1 2 x 4 5 6 7 8\n"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_machine_counts_its_cpu_time() {
        let a = CpuTimes::now().expect("/proc/stat on Linux");
        // Burn a little CPU so that ticks pass.
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let b = CpuTimes::now().expect("/proc/stat on Linux");
        let share = a.steal_percent_until(&b).expect("ticks passed in 50 ms");
        assert!((0.0..=100.0).contains(&share), "{share}");
    }
}
