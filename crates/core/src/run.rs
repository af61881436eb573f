//! The states of an automation run and of its steps, as stored and as the API shows them.

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Its worker is taking steps (or will, at its job's time).
    Running,
    /// A step waits: a delay, or a call to end.
    Waiting,
    Completed,
    Failed,
    /// Canceled through the API.
    Canceled,
}
str_enum!(RunStatus {
    Running = "running",
    Waiting = "waiting",
    Completed = "completed",
    Failed = "failed",
    Canceled = "canceled",
});

impl RunStatus {
    /// Nothing more will happen to the run.
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Failed | RunStatus::Canceled)
    }
}

/// Where one step of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepStatus {
    Running,
    /// Paused (a delay, a call): the run resumes it.
    Waiting,
    Completed,
    Failed,
    /// A `delay_until` whose time had passed, set to skip: the run ended there.
    Skipped,
}
str_enum!(StepStatus {
    Running = "running",
    Waiting = "waiting",
    Completed = "completed",
    Failed = "failed",
    Skipped = "skipped",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_ended_runs_are_final() {
        for s in [
            RunStatus::Running,
            RunStatus::Waiting,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Canceled,
        ] {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for s in [
            StepStatus::Running,
            StepStatus::Waiting,
            StepStatus::Completed,
            StepStatus::Failed,
            StepStatus::Skipped,
        ] {
            assert_eq!(StepStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RunStatus::parse("done"), None);
        assert!(!RunStatus::Waiting.is_final() && RunStatus::Canceled.is_final());
    }
}
