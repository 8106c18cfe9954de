//! One expectation of a mock method, as the test configures it.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::method::Method;
use crate::status::Status;

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
