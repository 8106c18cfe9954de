//! What generated mock clients are made of (plugin parameter `mocks`, or `rsgrpc_build`'s `.mocks(true)`):
//! per service a `Mock{Service}` (`MockGreeter`) that implements the service's client trait
//! (`GreeterApi`), so code written against `&impl GreeterApi` runs against it in a unit test.
//!
//! Each method gets `expect_<method>()`, which adds an [`Expect`]ation: which requests it matches
//! ([`with`](Expect::with), [`with_request`](Expect::with_request)), what it answers
//! ([`returning`](Expect::returning): a message or a status; for server-streaming methods [`Replies`]), and
//! how often it must be called ([`times`](Expect::times), once by default, as in gomock). A call is matched
//! against the expectations in the order they were added; one that matches none fails with UNIMPLEMENTED,
//! saying so. `verify()` returns what went wrong (expectations not met, unexpected calls), each naming the
//! method, the request and what was expected; a mock dropped unverified panics with that report.
//!
//! Client-streaming expectations see the whole request stream, collected (`Vec` of the messages);
//! bidirectional ones get the stream itself ([`Requests`]) and answer with a stream.

mod calls;
mod method;
mod streams;
mod verify;

pub use calls::{client_streaming, server_streaming, streaming, unary};
pub use method::{Expect, Method, Times};
pub use streams::{Replies, Requests};
pub use verify::{verify, verify_on_drop, Checked, MockError};
