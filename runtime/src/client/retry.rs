//! Retries and hedging, gRFC A6: a failed attempt whose code the method's `retryPolicy` lists is tried
//! again after a random wait under a growing bound, until `maxAttempts`, unless the server's response
//! headers had arrived (the call is committed), the server's pushback says no, or the channel's retry
//! throttle ran low. A `hedgingPolicy` instead starts attempts `hedgingDelay` apart and takes the first
//! success. Attempts after the first carry `grpc-previous-rpc-attempts`.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::service_config::{HedgingPolicy, RetryPolicy, RetryThrottling};
use crate::status::Status;

use crate::wire::GRPC_RETRY_PUSHBACK_MS as PUSHBACK;

/// How an attempt failed.
pub(crate) struct Failed {
    pub(crate) status: Status,
    /// The server's response headers had arrived: the call may not be retried.
    pub(crate) committed: bool,
}

impl Failed {
    /// A failure before anything came back from the server.
    pub(crate) fn uncommitted(status: Status) -> Failed {
        Failed { status, committed: false }
    }

    /// A failure no other attempt would change (a message too large to send).
    pub(crate) fn committed(status: Status) -> Failed {
        Failed { status, committed: true }
    }
}

/// The longest wait a policy can ask for here: larger values (a huge multiplier or delay in a service
/// config) are clamped instead of overflowing.
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// `duration` scaled by `factor`, clamped to [`MAX_WAIT`].
fn scaled(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(MAX_WAIT).min(MAX_WAIT)
}

/// `now + wait`, clamped.
fn after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait.min(MAX_WAIT)).unwrap_or(now)
}

/// Lets a hedged attempt say it is committed (its response headers arrived): the other attempts are
/// cancelled and no more start (gRFC A6). Retries and single attempts get one that does nothing.
#[derive(Clone, Default)]
pub(crate) struct Commit {
    race: Option<Arc<Race>>,
    index: usize,
}

/// The committed attempt of a hedged call, once there is one.
struct Race {
    winner: AtomicUsize,
    decided: tokio::sync::Notify,
}

const NO_WINNER: usize = usize::MAX;

impl Commit {
    /// This attempt is committed (the first to say so wins).
    pub(crate) fn commit(&self) {
        if let Some(race) = &self.race {
            if race.winner.compare_exchange(NO_WINNER, self.index, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                race.decided.notify_waiters();
            }
        }
    }

    /// Ready once another attempt committed; at once for an attempt that is not racing others.
    pub(crate) async fn lost(&self) {
        if let Some(race) = &self.race {
            race.lost(self.index).await;
        }
    }
}

impl Race {
    fn winner(&self) -> Option<usize> {
        Some(self.winner.load(Ordering::Acquire)).filter(|w| *w != NO_WINNER)
    }

    /// Ready once another attempt than `index` committed.
    async fn lost(&self, index: usize) {
        loop {
            let decided = self.decided.notified();
            if self.winner().is_some_and(|w| w != index) {
                return;
            }
            decided.await;
        }
    }
}

/// A channel's retry throttle: a token bucket that failures drain and successes refill; retries and hedged
/// attempts stop while it is at or below half full, so a struggling service is not hit harder.
#[derive(Debug)]
pub(crate) struct Throttle {
    settings: RetryThrottling,
    tokens: Mutex<f64>,
}

impl Throttle {
    pub(crate) fn new(settings: RetryThrottling) -> Self {
        Throttle { settings, tokens: Mutex::new(settings.max_tokens) }
    }

    pub(crate) fn settings(&self) -> RetryThrottling {
        self.settings
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, f64> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn allows_retry(&self) -> bool {
        *self.tokens() > self.settings.max_tokens / 2.0
    }

    pub(crate) fn failure(&self) {
        let mut tokens = self.tokens();
        *tokens = (*tokens - 1.0).max(0.0);
    }

    pub(crate) fn success(&self) {
        let mut tokens = self.tokens();
        *tokens = (*tokens + self.settings.token_ratio).min(self.settings.max_tokens);
    }
}

/// What the server's pushback trailer says.
enum Pushback {
    /// No pushback: the policy's backoff decides.
    None,
    /// Retry after exactly this long.
    After(Duration),
    /// Do not retry (a negative or malformed value).
    Stop,
}

fn pushback(status: &Status) -> Pushback {
    match status.metadata().get(PUSHBACK) {
        None => Pushback::None,
        Some(value) => match value.trim().parse::<u64>() {
            Ok(ms) => Pushback::After(Duration::from_millis(ms)),
            Err(_) => Pushback::Stop,
        },
    }
}

/// The randomized, growing waits between retries.
struct Backoff<'a> {
    policy: &'a RetryPolicy,
    bound: Duration,
}

impl<'a> Backoff<'a> {
    fn new(policy: &'a RetryPolicy) -> Self {
        Backoff { policy, bound: policy.initial_backoff }
    }

    /// A wait in `[0, bound)`; the bound then grows by the multiplier up to `maxBackoff`.
    fn next(&mut self) -> Duration {
        let wait = scaled(self.bound, super::random_unit());
        self.bound = scaled(self.bound, self.policy.backoff_multiplier).min(self.policy.max_backoff);
        wait
    }

    /// After a pushback the waits start over.
    fn reset(&mut self) {
        self.bound = self.policy.initial_backoff;
    }
}

/// Runs `attempt` under a retry policy.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    throttle: Option<&Throttle>,
    mut attempt: F,
) -> Result<T, Status>
where
    F: FnMut(u32, Commit) -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    let mut backoff = Backoff::new(policy);
    let mut attempts = 0;
    loop {
        let failed = match attempt(attempts, Commit::default()).await {
            Ok(value) => {
                if let Some(throttle) = throttle {
                    throttle.success();
                }
                return Ok(value);
            }
            Err(failed) => failed,
        };
        attempts += 1;
        let retryable = policy.retryable_status_codes.contains(&failed.status.code());
        if retryable {
            if let Some(throttle) = throttle {
                throttle.failure();
            }
        }
        let throttled = throttle.is_some_and(|t| !t.allows_retry());
        if !retryable || failed.committed || attempts >= policy.max_attempts || throttled {
            return Err(failed.status);
        }
        let wait = match pushback(&failed.status) {
            Pushback::Stop => return Err(failed.status),
            Pushback::After(wait) => {
                backoff.reset();
                wait
            }
            Pushback::None => backoff.next(),
        };
        tracing::debug!(code = %failed.status.code(), attempts, ?wait, "retrying a failed attempt");
        tokio::time::sleep(wait.min(MAX_WAIT)).await;
    }
}

/// Runs `attempt` under a hedging policy: a new attempt every `hedgingDelay` (or at once after a non-fatal
/// failure) while none has succeeded, up to `maxAttempts`; the first success wins and the others are
/// cancelled; a fatal failure ends the call.
pub(crate) async fn with_hedging<T, F, Fut>(
    policy: &HedgingPolicy,
    throttle: Option<&Throttle>,
    attempt: F,
) -> Result<T, Status>
where
    F: Fn(u32, Commit) -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    let race = Arc::new(Race { winner: AtomicUsize::new(NO_WINNER), decided: tokio::sync::Notify::new() });
    let mut running = FuturesUnordered::new();
    let mut started = 0;
    let mut next_at = Some(Instant::now());
    let mut last_failure = None;
    // A server's "do not retry" pushback stops hedging for good.
    let mut stopped = false;
    loop {
        if race.winner().is_some() {
            // Committed: the others are being cancelled, and none start.
            next_at = None;
        }
        let due = next_at.is_some_and(|at| at <= Instant::now());
        let may_hedge = started == 0 || throttle.is_none_or(Throttle::allows_retry);
        if due && started < policy.max_attempts && may_hedge {
            let index = started as usize;
            let work = attempt(started, Commit { race: Some(race.clone()), index });
            let race = race.clone();
            running.push(async move {
                tokio::select! {
                    result = work => Some(result),
                    () = race.lost(index) => None,
                }
            });
            started += 1;
            next_at = Some(after(policy.hedging_delay));
            continue;
        }
        if due && started < policy.max_attempts {
            // Throttled: no more attempts.
            next_at = None;
        }
        if running.is_empty() && (next_at.is_none() || started >= policy.max_attempts) {
            return Err(last_failure.unwrap_or_else(|| Status::unavailable("no hedged attempt could start")));
        }
        let timer = async {
            match next_at {
                Some(at) if started < policy.max_attempts => tokio::time::sleep_until(at).await,
                _ => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            Some(outcome) = running.next() => outcome,
            () = timer => continue,
        };
        // `None`: cancelled because another attempt committed.
        let Some(result) = outcome else { continue };
        let failed = match result {
            Ok(value) => {
                if let Some(throttle) = throttle {
                    throttle.success();
                }
                return Ok(value);
            }
            Err(failed) => failed,
        };
        let non_fatal = policy.non_fatal_status_codes.contains(&failed.status.code());
        if non_fatal {
            if let Some(throttle) = throttle {
                throttle.failure();
            }
        }
        if !non_fatal || failed.committed {
            return Err(failed.status);
        }
        next_at = match pushback(&failed.status) {
            Pushback::Stop => {
                stopped = true;
                None
            }
            _ if stopped => None,
            Pushback::After(wait) => Some(after(wait)),
            Pushback::None => Some(Instant::now()),
        };
        last_failure = Some(failed.status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Code;

    fn policy(max_attempts: u32, codes: &[Code]) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            backoff_multiplier: 2.0,
            retryable_status_codes: codes.to_vec(),
        }
    }

    fn with_pushback(code: Code, value: &str) -> Status {
        let mut metadata = crate::metadata::MetadataMap::new();
        metadata.insert(PUSHBACK, value).unwrap();
        Status::with_metadata(code, "pushed back", metadata)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    /// Runs `with_retries` over attempts that fail with `outcomes` in turn (then succeed), returning the
    /// result and how many attempts ran.
    fn retried(policy: &RetryPolicy, throttle: Option<&Throttle>, outcomes: Vec<Failed>) -> (Result<u32, Status>, u32) {
        let outcomes = Mutex::new(outcomes.into_iter());
        let ran = AtomicUsize::new(0);
        let result = runtime().block_on(with_retries(policy, throttle, |attempt, _| {
            ran.fetch_add(1, Ordering::Relaxed);
            let next = outcomes.lock().unwrap().next();
            async move { next.map_or(Ok(attempt), Err) }
        }));
        (result, ran.load(Ordering::Relaxed) as u32)
    }

    #[test]
    fn backoff_waits_stay_under_a_bound_that_grows_to_the_maximum_and_restarts_after_a_reset() {
        let policy = RetryPolicy { max_backoff: Duration::from_millis(40), ..policy(5, &[]) };
        let policy = RetryPolicy { initial_backoff: Duration::from_millis(10), ..policy };
        let mut backoff = Backoff::new(&policy);
        for bound in [10, 20, 40, 40, 40] {
            assert_eq!(backoff.bound, Duration::from_millis(bound));
            assert!(backoff.next() < Duration::from_millis(bound));
        }
        backoff.reset();
        assert_eq!(backoff.bound, Duration::from_millis(10));
    }

    #[test]
    fn huge_multipliers_and_delays_are_clamped_rather_than_overflowing() {
        assert_eq!(scaled(Duration::from_secs(u64::MAX / 2), 1e300), MAX_WAIT);
        assert_eq!(scaled(Duration::from_secs(1), f64::INFINITY), MAX_WAIT);
        assert_eq!(scaled(Duration::from_secs(2), 0.5), Duration::from_secs(1));
        let far = after(Duration::MAX);
        assert!(far <= Instant::now() + MAX_WAIT);
    }

    #[test]
    fn pushback_is_an_exact_wait_or_a_stop_for_anything_not_a_non_negative_integer() {
        assert!(matches!(pushback(&Status::unavailable("no header")), Pushback::None));
        assert!(matches!(pushback(&with_pushback(Code::Unavailable, "250")),
            Pushback::After(wait) if wait == Duration::from_millis(250)));
        for bad in ["-1", "soon", "1.5", ""] {
            assert!(matches!(pushback(&with_pushback(Code::Unavailable, bad)), Pushback::Stop), "{bad:?}");
        }
    }

    #[test]
    fn the_throttle_stops_retries_at_half_its_tokens_and_successes_refill_it_up_to_the_maximum() {
        let throttle = Throttle::new(RetryThrottling { max_tokens: 4.0, token_ratio: 0.5 });
        assert!(throttle.allows_retry());
        throttle.failure();
        assert!(throttle.allows_retry(), "3 of 4 tokens");
        throttle.failure();
        assert!(!throttle.allows_retry(), "2 of 4 tokens is not above half");
        for _ in 0..10 {
            throttle.failure();
        }
        assert_eq!(*throttle.tokens(), 0.0, "never below zero");
        throttle.success();
        throttle.success();
        throttle.success();
        throttle.success();
        throttle.success();
        assert!(throttle.allows_retry(), "2.5 of 4");
        for _ in 0..20 {
            throttle.success();
        }
        assert_eq!(*throttle.tokens(), 4.0, "never above the maximum");
    }

    #[test]
    fn retryable_failures_are_retried_up_to_max_attempts_and_others_end_the_call_at_once() {
        let unavailable = || Failed::uncommitted(Status::unavailable("down"));
        let policy = policy(3, &[Code::Unavailable]);
        assert_eq!(retried(&policy, None, vec![unavailable(), unavailable()]).0.unwrap(), 2);
        let (result, ran) = retried(&policy, None, vec![unavailable(), unavailable(), unavailable()]);
        assert_eq!((result.unwrap_err().code(), ran), (Code::Unavailable, 3));
        let (result, ran) = retried(&policy, None, vec![Failed::uncommitted(Status::internal("bug"))]);
        assert_eq!((result.unwrap_err().code(), ran), (Code::Internal, 1));
        let (result, ran) = retried(&policy, None, vec![Failed::committed(Status::unavailable("headers came"))]);
        assert_eq!((result.unwrap_err().code(), ran), (Code::Unavailable, 1));
    }

    #[test]
    fn a_stop_pushback_or_a_drained_throttle_ends_retries() {
        let policy = policy(5, &[Code::Unavailable]);
        let stop = Failed::uncommitted(with_pushback(Code::Unavailable, "-1"));
        let (result, ran) = retried(&policy, None, vec![stop]);
        assert_eq!((result.unwrap_err().message(), ran), ("pushed back", 1));
        let wait = Failed::uncommitted(with_pushback(Code::Unavailable, "1"));
        assert_eq!(retried(&policy, None, vec![wait]).0.unwrap(), 1);
        let throttle = Throttle::new(RetryThrottling { max_tokens: 2.0, token_ratio: 0.1 });
        let (result, ran) = retried(&policy, Some(&throttle), vec![Failed::uncommitted(Status::unavailable("down"))]);
        assert_eq!((result.unwrap_err().code(), ran), (Code::Unavailable, 1), "1 of 2 tokens left");
    }

    #[test]
    fn hedging_takes_the_first_success_and_a_fatal_failure_ends_the_call() {
        let policy = HedgingPolicy {
            max_attempts: 3,
            hedging_delay: Duration::from_millis(5),
            non_fatal_status_codes: vec![Code::Unavailable],
        };
        // The first attempt never answers; the second, started a hedging delay later, succeeds.
        let result = runtime().block_on(with_hedging(&policy, None, |attempt, _| async move {
            if attempt == 0 {
                std::future::pending::<()>().await;
            }
            Ok::<_, Failed>(attempt)
        }));
        assert_eq!(result.unwrap(), 1);
        // Non-fatal failures start the next attempt at once, until none are left.
        let ran = AtomicUsize::new(0);
        let result = runtime().block_on(with_hedging(&policy, None, |_, _| {
            ran.fetch_add(1, Ordering::Relaxed);
            async { Err::<u32, _>(Failed::uncommitted(Status::unavailable("down"))) }
        }));
        assert_eq!((result.unwrap_err().code(), ran.load(Ordering::Relaxed)), (Code::Unavailable, 3));
        let ran = AtomicUsize::new(0);
        let result = runtime().block_on(with_hedging(&policy, None, |_, _| {
            ran.fetch_add(1, Ordering::Relaxed);
            async { Err::<u32, _>(Failed::uncommitted(Status::internal("fatal"))) }
        }));
        assert_eq!((result.unwrap_err().code(), ran.load(Ordering::Relaxed)), (Code::Internal, 1));
    }
}
