//! One method of a mock: its expectations, the calls that matched none, and how a call is answered.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use super::expect::{Expect, Expectation};
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
