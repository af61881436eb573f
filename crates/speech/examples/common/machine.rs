//! What a speech figure needs beside it, shared by the STT examples: the CPU (Whisper's cost
//! differs several-fold between CPUs with and without AVX-512), the load while it ran, and the
//! process's CPU time.

/// "CPU: <model>, N cores, AVX-512: yes|no" from /proc/cpuinfo.
pub fn cpu_line() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|x| x.1.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let avx512 = info.lines().any(|l| l.starts_with("flags") && l.contains("avx512f"));
    format!(
        "CPU: {model}, {} cores, AVX-512: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        if avx512 { "yes" } else { "no" }
    )
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Whose CPU time [`cpu_seconds`] reads.
#[derive(Clone, Copy)]
#[allow(dead_code)] // each example that includes this file uses one or both
pub enum CpuOf {
    /// The whole process, all threads.
    Process,
    /// The calling thread. A one-thread Whisper decode runs on the calling thread, so this is
    /// its cost without the time it spent waiting for a core on a busy machine.
    Thread,
}

/// CPU time used so far, in seconds, from /proc (Linux; 10 ms ticks). Wall-clock time depends
/// on what else the machine runs; CPU time much less so.
pub fn cpu_seconds(of: CpuOf) -> f64 {
    let path = match of {
        CpuOf::Process => "/proc/self/stat",
        CpuOf::Thread => "/proc/thread-self/stat",
    };
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime 13th.
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
