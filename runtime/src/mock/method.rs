//! One method of a mock: its expectations (and the builder a test configures each with), the calls that
//! matched none, and how a call is answered. The two are one file: each needs the other.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::status::Status;

/// The expectations of one method of a mock, and what went wrong so far. `In` is what the method's
/// expectations see of a call (the request message; all messages of a client stream; a bidirectional
/// call's request stream), `Out` what they answer.
pub struct Method<In, Out> {
    path: &'static str,
    state: Mutex<State<In, Out>>,
}

struct State<In, Out> {
    expectations: Vec<Expectation<In, Out>>,
    /// Calls no expectation accepted, described.
    failures: Vec<String>,
}

impl<In: Send + 'static, Out: Send + 'static> Method<In, Out> {
    /// The method at `path` (`/package.Service/Method`), with no expectations.
    pub fn new(path: &'static str) -> Self {
        Method { path, state: Mutex::new(State { expectations: Vec::new(), failures: Vec::new() }) }
    }

    /// Adds an expectation (matching any request, answering the default, expected once) to configure.
    pub fn expect(&self) -> Expect<'_, In, Out> {
        let mut state = self.state();
        state.expectations.push(Expectation::new());
        Expect::new(self, state.expectations.len() - 1)
    }

    pub(super) fn update(&self, index: usize, change: impl FnOnce(&mut Expectation<In, Out>)) {
        if let Some(expectation) = self.state().expectations.get_mut(index) {
            change(expectation);
        }
    }

    /// Answers a call whose request reads as `described`: the first expectation that matches it and is
    /// not used up answers; otherwise the failure is recorded, and the call fails with UNIMPLEMENTED
    /// saying why.
    pub fn call(&self, input: In, described: impl FnOnce(&In) -> String) -> Result<Out, Status>
    where
        Out: Default,
    {
        let mut state = self.state();
        let mut used_up = None;
        let mut chosen = None;
        for (index, expectation) in state.expectations.iter_mut().enumerate() {
            if !expectation.matches(&input) {
                continue;
            }
            if expectation.times.is_saturated(expectation.calls) {
                used_up.get_or_insert(index);
                continue;
            }
            expectation.calls += 1;
            chosen = Some(expectation.responder.clone());
            break;
        }
        match chosen {
            Some(responder) => {
                // The state is not held while the test's closure runs: it may call the mock again.
                drop(state);
                match responder {
                    Some(responder) => (responder.lock().unwrap_or_else(|e| e.into_inner()))(input),
                    None => Ok(Out::default()),
                }
            }
            None => {
                let message = self.unexpected(&state, &described(&input), used_up);
                state.failures.push(message.clone());
                Err(Status::unimplemented(message))
            }
        }
    }

    /// Why a call matched nothing: what it was, and what was expected instead.
    fn unexpected(&self, state: &State<In, Out>, described: &str, used_up: Option<usize>) -> String {
        let path = self.path;
        if let Some(index) = used_up {
            let expectation = &state.expectations[index];
            return format!(
                "{path} was called with {described} more often than expected: expectation #{} ({}) wants {}",
                index + 1,
                expectation.wanted,
                expectation.times
            );
        }
        if state.expectations.is_empty() {
            return format!("unexpected call of {path} with {described}: no call of it was expected");
        }
        let wanted: Vec<String> = state
            .expectations
            .iter()
            .enumerate()
            .map(|(index, expectation)| format!("#{} {}", index + 1, expectation.wanted))
            .collect();
        format!(
            "unexpected call of {path} with {described}: it matches none of the expectations ({})",
            wanted.join("; ")
        )
    }

    /// What went wrong with this method (unmet expectations, unexpected calls); then forgets its
    /// expectations and failures, so that what comes next is checked afresh.
    pub(super) fn take_problems(&self) -> Vec<String> {
        let mut state = self.state();
        let mut problems = std::mem::take(&mut state.failures);
        for (index, expectation) in state.expectations.iter().enumerate() {
            if !expectation.times.is_met(expectation.calls) {
                problems.push(format!(
                    "{}: expectation #{} ({}) wants {}, and got {}",
                    self.path,
                    index + 1,
                    expectation.wanted,
                    expectation.times,
                    expectation.calls
                ));
            }
        }
        state.expectations.clear();
        problems
    }
}

impl<In, Out> Method<In, Out> {
    /// The method's path, `/package.Service/Method`.
    pub fn path(&self) -> &'static str {
        self.path
    }

    fn state(&self) -> MutexGuard<'_, State<In, Out>> {
        // A test's closure that panicked leaves the expectations as they were: still worth reporting.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<In, Out> fmt::Debug for Method<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Method")
            .field("path", &self.path)
            .field("expectations", &state.expectations.len())
            .field("failures", &state.failures)
            .finish()
    }
}

/// How often an expectation must be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Exactly this many calls (the default: one).
    Exactly(usize),
    /// At least this many calls.
    AtLeast(usize),
    /// Any number, none included.
    Any,
}

impl Times {
    pub(super) fn is_met(self, calls: usize) -> bool {
        match self {
            Times::Exactly(n) => calls == n,
            Times::AtLeast(n) => calls >= n,
            Times::Any => true,
        }
    }

    /// Whether one more call would be one too many.
    pub(super) fn is_saturated(self, calls: usize) -> bool {
        matches!(self, Times::Exactly(n) if calls >= n)
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match *self {
            Times::Exactly(n) => write!(f, "exactly {n} call{}", plural(n)),
            Times::AtLeast(n) => write!(f, "at least {n} call{}", plural(n)),
            Times::Any => f.write_str("any number of calls"),
        }
    }
}

pub(super) type Matcher<In> = Box<dyn Fn(&In) -> bool + Send + Sync>;
pub(super) type Responder<In, Out> = Arc<Mutex<Box<dyn FnMut(In) -> Result<Out, Status> + Send>>>;

/// An expectation as its method keeps it.
pub(super) struct Expectation<In, Out> {
    pub(super) matcher: Option<Matcher<In>>,
    /// What the matcher accepts, for failure messages.
    pub(super) wanted: String,
    pub(super) responder: Option<Responder<In, Out>>,
    pub(super) times: Times,
    pub(super) calls: usize,
}

impl<In, Out> Expectation<In, Out> {
    pub(super) fn new() -> Self {
        Expectation {
            matcher: None,
            wanted: "any request".to_owned(),
            responder: None,
            times: Times::Exactly(1),
            calls: 0,
        }
    }

    pub(super) fn matches(&self, input: &In) -> bool {
        self.matcher.as_ref().is_none_or(|matcher| matcher(input))
    }
}

/// Configures an expectation of a mock method; made by the mock's `expect_<method>()`. Every setting
/// applies at once, so the builder can be dropped after any of them.
pub struct Expect<'a, In, Out> {
    method: &'a Method<In, Out>,
    index: usize,
}

impl<'a, In: Send + 'static, Out: Send + 'static> Expect<'a, In, Out> {
    pub(super) fn new(method: &'a Method<In, Out>, index: usize) -> Self {
        Expect { method, index }
    }

    fn update(self, change: impl FnOnce(&mut Expectation<In, Out>)) -> Self {
        self.method.update(self.index, change);
        self
    }

    /// Matches only requests for which `matcher` is true (for client-streaming methods: all messages the
    /// caller sent).
    pub fn with(self, matcher: impl Fn(&In) -> bool + Send + Sync + 'static) -> Self {
        self.update(|expectation| {
            expectation.matcher = Some(Box::new(matcher));
            expectation.wanted = "a request the matcher accepts".to_owned();
        })
    }

    /// Matches only requests equal to `expected` (shown in failure messages).
    pub fn with_request(self, expected: In) -> Self
    where
        In: PartialEq + fmt::Debug + Sync,
    {
        self.update(|expectation| {
            expectation.wanted = format!("a request equal to {expected:?}");
            expectation.matcher = Some(Box::new(move |input| *input == expected));
        })
    }

    /// Answers matching calls with what `respond` returns for the request: a message (for server-streaming
    /// methods, [`Replies`](super::Replies)) or a status. Without it, a call gets the default message (or
    /// an empty stream).
    pub fn returning(self, respond: impl FnMut(In) -> Result<Out, Status> + Send + 'static) -> Self {
        let responder: Responder<In, Out> = Arc::new(Mutex::new(Box::new(respond)));
        self.update(|expectation| expectation.responder = Some(responder))
    }

    /// Expects exactly `calls` calls (default 1).
    pub fn times(self, calls: usize) -> Self {
        self.update(|expectation| expectation.times = Times::Exactly(calls))
    }

    /// Expects `calls` or more.
    pub fn at_least(self, calls: usize) -> Self {
        self.update(|expectation| expectation.times = Times::AtLeast(calls))
    }

    /// Allows any number of calls, none included.
    pub fn any_times(self) -> Self {
        self.update(|expectation| expectation.times = Times::Any)
    }

    /// Expects no matching call at all: one fails the call and the verification.
    pub fn never(self) -> Self {
        self.times(0)
    }
}

impl<In, Out> fmt::Debug for Expect<'_, In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expect").field("method", &self.method.path()).field("index", &self.index).finish()
    }
}
