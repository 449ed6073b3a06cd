//! The one retry engine: the token client, the Databricks client and managed identity all retry
//! through [`run`]. A *classify* callback looks at each attempt's outcome and says whether it is
//! final or worth another attempt — of which [`RetryKind`], and after how long the server asked
//! to wait.
//!
//! Waits are exponential with jitter ([`RetryPolicy::backoff`]) unless the server sent
//! `Retry-After`. Each kind has its own time budget, measured from the first attempt:
//!
//! | kind | budget (token endpoints / Databricks) | variable |
//! |---|---|---|
//! | connection errors (refused, reset, timeout, DNS) | 10 s | `BRICKAUTH_CONNECT_RETRY_BUDGET` |
//! | 429 and 5xx answers (IMDS: 410 too) | 60 s / 300 s | `BRICKAUTH_RETRY_BUDGET` |
//!
//! Library code never prints: every wait is reported to a [`RetryObserver`] (the CLI prints one
//! line per wait once retrying has taken about 2 s) and as a `tracing` event at `debug`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

/// The variable that sets the budget for connection errors, in seconds.
pub const CONNECT_BUDGET_VAR: &str = "BRICKAUTH_CONNECT_RETRY_BUDGET";
/// The variable that sets the budget for 429/5xx answers, in seconds.
pub const ANSWER_BUDGET_VAR: &str = "BRICKAUTH_RETRY_BUDGET";
/// The default budget for connection errors.
pub const DEFAULT_CONNECT_BUDGET: Duration = Duration::from_secs(10);

/// Why an attempt is worth repeating; each kind has its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryKind {
    /// No answer: connection refused or reset, DNS failure, timeout.
    Connect,
    /// The server answered that it is busy or down (429, 5xx; IMDS: 410).
    Busy,
}

/// A time budget and the variable that sets it (named in give-up messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Total time allowed, from the first attempt.
    pub limit: Duration,
    /// The environment variable that sets it, in seconds.
    pub variable: &'static str,
}

impl Budget {
    /// `default`, or the whole seconds in `$variable` when it is set to a number.
    pub fn from_env(variable: &'static str, default: Duration) -> Budget {
        let limit = std::env::var(variable)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(default);
        Budget { limit, variable }
    }
}

/// How and how long to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Requests sent at most, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Longest single wait (a longer `Retry-After` ends the retries instead).
    pub max_delay: Duration,
    /// For connection errors.
    pub connect: Budget,
    /// For busy answers (429, 5xx).
    pub busy: Budget,
}

impl RetryPolicy {
    /// For token endpoints: 6 attempts; connection errors within 10 s, busy answers within 60 s
    /// (`BRICKAUTH_CONNECT_RETRY_BUDGET`, `BRICKAUTH_RETRY_BUDGET`).
    pub fn token_endpoint() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            connect: Budget::from_env(CONNECT_BUDGET_VAR, DEFAULT_CONNECT_BUDGET),
            busy: Budget::from_env(ANSWER_BUDGET_VAR, Duration::from_secs(60)),
        }
    }

    /// No retries at all: for requests that must never be sent twice (an authorization code).
    pub fn never() -> Self {
        RetryPolicy { max_attempts: 1, ..Self::token_endpoint() }
    }

    /// The budget for `kind`.
    pub fn budget(&self, kind: RetryKind) -> Budget {
        match kind {
            RetryKind::Connect => self.connect,
            RetryKind::Busy => self.busy,
        }
    }

    /// The wait before attempt `attempt + 1` (1-based `attempt`): exponential with jitter, between
    /// half and all of `base_delay * 2^(attempt-1)`, capped at `max_delay`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        // Never less than half the step, so retries do not bunch up at zero.
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis.max(1)))
    }
}

/// What the classify callback decided about one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand this outcome to the caller (success, or a failure no retry can fix).
    Final,
    /// Worth another attempt.
    Retry {
        /// Which budget applies.
        kind: RetryKind,
        /// The wait the server asked for (`Retry-After`), if any.
        after: Option<Duration>,
        /// A short reason for the retry line ("connection refused", "HTTP 503").
        reason: String,
    },
}

/// One wait before another attempt, as reported to a [`RetryObserver`].
#[derive(Debug, Clone)]
pub struct RetryEvent<'a> {
    /// The attempt that just failed (1-based).
    pub attempt: u32,
    /// Attempts allowed in all.
    pub max_attempts: u32,
    /// The wait before the next attempt.
    pub wait: Duration,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// The kind of failure.
    pub kind: RetryKind,
    /// Why (short, no secret: "connection refused", "HTTP 503").
    pub reason: &'a str,
    /// The URL, without query.
    pub url: &'a str,
}

/// Told about every wait; the CLI's implementation prints a line, an embedder's can do anything.
pub trait RetryObserver: Send + Sync {
    /// The engine is about to wait `event.wait` before another attempt.
    fn retrying(&self, event: &RetryEvent<'_>);
}

/// A shared observer.
pub type Observer = Arc<dyn RetryObserver>;

/// Why the engine stopped retrying although the last outcome was retryable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    /// Attempts made.
    pub attempts: u32,
    /// Time spent in all.
    pub elapsed: Duration,
    /// The kind of the last failure.
    pub kind: RetryKind,
    /// What ran out.
    pub limit: Limit,
}

/// What ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// All attempts used.
    Attempts(u32),
    /// The next wait would overrun this budget.
    Budget(Budget),
    /// The server asked for a wait longer than the longest allowed.
    RetryAfter(Duration),
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gave up after {} attempts in {} s", self.attempts, self.elapsed.as_secs())?;
        let what = match self.kind {
            RetryKind::Connect => "connection errors",
            RetryKind::Busy => "busy answers (429/5xx)",
        };
        match &self.limit {
            Limit::Attempts(n) => write!(f, " (at most {n} attempts)"),
            Limit::Budget(b) => {
                write!(f, " ({what} are retried for {} s; {} sets it)", b.limit.as_secs(), b.variable)
            }
            Limit::RetryAfter(d) => write!(f, " (the server asked to wait {} s)", d.as_secs()),
        }
    }
}

/// Run `attempt` until `classify` calls its outcome final or `policy` runs out. Returns the last
/// outcome and, when it was still retryable, why the engine gave up.
///
/// With `policy.max_attempts == 1` a retryable outcome comes back with no [`GaveUp`]: a request
/// that is never repeated simply failed.
pub async fn run<T, F, Fut, C>(
    policy: &RetryPolicy,
    observer: Option<&dyn RetryObserver>,
    url: &str,
    mut attempt: F,
    classify: C,
) -> (T, Option<GaveUp>)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = T>,
    C: Fn(&T) -> Verdict,
{
    let start = Instant::now();
    let mut n = 0u32;
    loop {
        n += 1;
        let outcome = attempt(n).await;
        let Verdict::Retry { kind, after, reason } = classify(&outcome) else {
            return (outcome, None);
        };
        if policy.max_attempts <= 1 {
            return (outcome, None);
        }
        let elapsed = start.elapsed();
        let wait = after.unwrap_or_else(|| policy.backoff(n));
        let budget = policy.budget(kind);
        let limit = if n >= policy.max_attempts {
            Some(Limit::Attempts(policy.max_attempts))
        } else if wait > policy.max_delay {
            Some(Limit::RetryAfter(wait))
        } else if elapsed.saturating_add(wait) > budget.limit {
            Some(Limit::Budget(budget))
        } else {
            None
        };
        if let Some(limit) = limit {
            tracing::debug!(attempts = n, ?kind, "giving up: {reason}");
            return (outcome, Some(GaveUp { attempts: n, elapsed, kind, limit }));
        }
        tracing::debug!(
            "attempt {n} of {} failed ({reason}); retrying in {:.1} s",
            policy.max_attempts,
            wait.as_secs_f64()
        );
        if let Some(o) = observer {
            o.retrying(&RetryEvent {
                attempt: n,
                max_attempts: policy.max_attempts,
                wait,
                elapsed,
                kind,
                reason: &reason,
                url,
            });
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn fast(max_attempts: u32, connect_ms: u64, busy_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(50),
            connect: Budget { limit: Duration::from_millis(connect_ms), variable: "C" },
            busy: Budget { limit: Duration::from_millis(busy_ms), variable: "B" },
        }
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<(u32, u32, String)>>);
    impl RetryObserver for Seen {
        fn retrying(&self, e: &RetryEvent<'_>) {
            self.0.lock().unwrap().push((e.attempt, e.max_attempts, e.reason.to_owned()));
        }
    }

    /// Classify: even numbers are busy answers, 1 is a connection error, 0 is final.
    fn classify(v: &u32) -> Verdict {
        match v {
            0 => Verdict::Final,
            1 => Verdict::Retry { kind: RetryKind::Connect, after: None, reason: "refused".into() },
            n => Verdict::Retry {
                kind: RetryKind::Busy,
                after: Some(Duration::from_millis(u64::from(*n))),
                reason: format!("HTTP {n}"),
            },
        }
    }

    #[tokio::test]
    async fn retries_until_final_and_reports_each_wait() {
        let seen = Seen::default();
        let answers = [1u32, 2, 0, 1];
        let (out, gave_up) =
            run(&fast(5, 1000, 1000), Some(&seen), "u", |n| async move { answers[n as usize - 1] }, classify).await;
        assert_eq!((out, gave_up), (0, None));
        assert_eq!(*seen.0.lock().unwrap(), [(1, 5, "refused".to_owned()), (2, 5, "HTTP 2".to_owned())]);
    }

    #[tokio::test]
    async fn attempts_run_out() {
        let (out, gave_up) = run(&fast(3, 1000, 1000), None, "u", |_| async { 1u32 }, classify).await;
        assert_eq!(out, 1);
        let g = gave_up.unwrap();
        assert_eq!((g.attempts, g.kind, g.limit), (3, RetryKind::Connect, Limit::Attempts(3)));
    }

    #[tokio::test]
    async fn each_kind_has_its_budget() {
        // Connection errors: a 0 ms budget stops at once; busy answers get their own.
        let (_, g) = run(&fast(9, 0, 1000), None, "u", |_| async { 1u32 }, classify).await;
        let g = g.unwrap();
        assert_eq!((g.attempts, &g.limit), (1, &Limit::Budget(Budget { limit: Duration::ZERO, variable: "C" })));
        assert!(g.to_string().contains("connection errors are retried for 0 s; C sets it"), "{g}");
        let (_, g) = run(&fast(9, 0, 1000), None, "u", |n| async move { if n < 3 { 4u32 } else { 0 } }, classify).await;
        assert_eq!(g, None);
    }

    #[tokio::test]
    async fn long_retry_after_ends_at_once() {
        let (out, g) = run(&fast(9, 1000, 1000), None, "u", |_| async { 500u32 }, classify).await;
        assert_eq!(out, 500);
        assert_eq!(g.unwrap().limit, Limit::RetryAfter(Duration::from_millis(500)));
    }

    #[tokio::test]
    async fn never_means_one_attempt_and_no_give_up() {
        let (out, g) = run(&RetryPolicy::never(), None, "u", |_| async { 1u32 }, classify).await;
        assert_eq!((out, g), (1, None));
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy { max_delay: Duration::from_secs(2), ..RetryPolicy::token_endpoint() };
        assert!(p.backoff(1) <= Duration::from_millis(500));
        assert!(p.backoff(3) >= Duration::from_secs(1));
        assert!(p.backoff(30) <= Duration::from_secs(2));
    }
}
