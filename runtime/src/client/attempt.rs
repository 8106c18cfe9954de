//! One attempt of a call, the same for every call kind (grpc-go's `csAttempt`): open a stream on a picked
//! connection, send the request side from the call's [`Body`], and wait for the response head. An attempt
//! whose response headers arrived is the call now ([`Ongoing`]); one that failed before says whether another
//! attempt may still be made ([`Failed`]). What a kind does after the head (read one message, hand over the
//! stream, send the rest) is the caller's.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use prost::Message;

use super::call::CallSetup;
use super::replay::{Body, Step};
use super::retry::{Commit, Failed};
use super::{CallInfo, Channel};
use crate::observe::client::ClientAttempt;
use crate::observe::TapSink;
use crate::status::{Code, Status};
use crate::streaming::{send_message, Streaming};
use crate::{timeout, wire};

/// A call's stream, opened: the response to come and the call's place in its connection's count.
pub(crate) struct Opened {
    pub(crate) response: h2::client::ResponseFuture,
    pub(crate) active: crate::keepalive::ActiveCall,
    /// The connection's channelz entry, when channelz is on.
    pub(crate) socket: Option<Arc<crate::observe::channelz::SocketNode>>,
    /// Where the call's outcome is counted (outlier detection), if anywhere.
    pub(crate) outcomes: Option<Arc<super::outcomes::CallOutcomes>>,
}

/// The attempt a call is committed to: its response headers arrived (or it ended OK without any).
pub(crate) struct Ongoing<Res> {
    /// The request side while it is still open (a streaming body not yet ended).
    pub(crate) send: Option<h2::SendStream<Bytes>>,
    /// How far into the body this attempt has sent.
    pub(crate) cursor: usize,
    pub(crate) responses: Streaming<Res>,
    /// Why a send failed, if one did: the server's answer usually says more.
    pub(crate) send_error: Option<Status>,
    /// The attempt's observer, when the call is observed.
    pub(crate) observed: Option<Arc<ClientAttempt>>,
}

/// Opens the stream of attempt number `previous + 1`: the call's request head, its remaining time as
/// `grpc-timeout`, and its credentials, on a connection the balancer picks.
pub(crate) async fn open(
    channel: &Channel,
    setup: &CallSetup,
    previous: u32,
) -> Result<(Opened, h2::SendStream<Bytes>), Status> {
    let mut attempts_left = 3;
    loop {
        // Built for each pick (normally one): a stream the connection refused took its headers with it.
        let headers = attempt_headers(channel, setup, previous).await?;
        let picked = channel.pick(setup.wait_for_ready, &headers).await?;
        let (mut send_request, calls) = (picked.send, picked.calls);
        let mut head = http::Request::new(());
        *head.method_mut() = http::Method::POST;
        *head.uri_mut() = setup.uri.clone();
        *head.headers_mut() = headers;
        match send_request.send_request(head, false) {
            Ok((response, send)) => {
                let socket = calls.socket().cloned();
                return Ok((Opened { response, active: calls.enter(), socket, outcomes: picked.outcomes }, send));
            }
            // Refused before anything was sent (the connection received GOAWAY meanwhile): nothing reached
            // the server, so another connection may take the call (gRPC's transparent retry).
            Err(error) if attempts_left > 1 => {
                tracing::debug!(%error, "the connection refused a new stream; picking again");
                attempts_left -= 1;
            }
            Err(error) => return Err(Status::from(error)),
        }
    }
}

/// The request headers of one attempt: the call's, its number after the first, its remaining time and its
/// credentials.
async fn attempt_headers(channel: &Channel, setup: &CallSetup, previous: u32) -> Result<http::HeaderMap, Status> {
    let mut headers = setup.headers.clone();
    if previous > 0 {
        headers.insert(wire::GRPC_PREVIOUS_RPC_ATTEMPTS, http::HeaderValue::from(previous));
    }
    if let Some(deadline) = setup.deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Status::deadline_exceeded("the deadline passed before the call started"));
        }
        let value = http::HeaderValue::from_str(&timeout::encode(left)).expect("timeouts are ASCII");
        headers.insert(wire::GRPC_TIMEOUT, value);
    }
    if let Some(credentials) = &setup.credentials {
        let call = CallInfo { authority: channel.authority().to_string(), method: setup.path };
        credentials.apply(&call, channel.is_tls(), &mut headers).await?;
    }
    Ok(headers)
}

/// Runs one attempt until its response head: sends the body (all of a single message; a streaming body's
/// messages as they come, the ones an earlier attempt sent first) while waiting for the response headers.
/// `stream_deadline` is for response streams that outlive the call's own deadline timer.
pub(crate) async fn run<Res: Message + Default>(
    channel: &Channel,
    setup: &CallSetup,
    previous: u32,
    body: &Body,
    commit: &Commit,
    stream_deadline: Option<Instant>,
) -> Result<Ongoing<Res>, Failed> {
    let observed = setup.observe_attempt();
    let (opened, mut send) = match open(channel, setup, previous).await {
        Ok(opened) => opened,
        Err(status) => {
            if let Some(observed) = &observed {
                observed.failed(status.code());
            }
            return Err(Failed::uncommitted(status));
        }
    };
    if let Some(observed) = &observed {
        observed.on_socket(opened.socket.as_ref());
    }
    let mut responses = Streaming::<Res>::client(opened.response, opened.active, setup.max_receive, stream_deadline);
    if let Some(outcomes) = opened.outcomes {
        responses.count_outcome(outcomes);
    }
    if let Some(observed) = &observed {
        responses.observe(TapSink::Client(observed.clone()));
    }
    let mut send_error = None;
    let mut cursor = 0;
    let mut sending = true;
    let headers = match body {
        Body::Single(data) => {
            // The whole message at once: it fits the send limit, and h2 sends it as the window allows.
            match send.send_data(data.clone(), true) {
                Ok(()) => sent(&observed, data.len()),
                Err(error) => send_error = Some(Status::from(error)),
            }
            sending = false;
            std::future::poll_fn(|cx| responses.poll_headers(cx)).await
        }
        Body::Stream(log) => loop {
            let mut overflowed = false;
            tokio::select! {
                headers = std::future::poll_fn(|cx| responses.poll_headers(cx)) => break headers,
                step = async { log.lock().await.next(&mut cursor, &mut overflowed).await }, if sending => match step {
                    Step::Message(data) => {
                        if overflowed {
                            // What was sent cannot be sent again: this attempt is the call now.
                            commit.commit();
                        }
                        let len = data.len();
                        match send_message(&mut send, data, false).await {
                            Ok(()) => sent(&observed, len),
                            Err(status) => {
                                // The server's answer (awaited above) says why.
                                send_error = Some(status);
                                sending = false;
                            }
                        }
                    }
                    Step::End => {
                        sending = false;
                        if let Err(error) = send.send_data(Bytes::new(), true) {
                            send_error = Some(Status::from(error));
                        }
                    }
                    // Never ended as complete: the caller (or an interceptor, or the encoder) gave up.
                    Step::Cancel(status) => {
                        send.send_reset(h2::Reason::CANCEL);
                        return Err(Failed::committed(status));
                    }
                    Step::Behind => {
                        send.send_reset(h2::Reason::CANCEL);
                        // A hedge that fell behind the buffer loses to the attempt that overflowed it.
                        commit.lost().await;
                        return Err(Failed::committed(Status::unavailable(
                            "the call's messages outgrew the retry buffer before this attempt sent them",
                        )));
                    }
                },
            }
        },
    };
    match headers {
        Ok(()) => {
            if responses.received_headers() {
                commit.commit();
                body.commit().await;
            }
            Ok(Ongoing { send: sending.then_some(send), cursor, responses, send_error, observed })
        }
        Err(status) => {
            let status = prefer_response_status(status, send_error);
            Err(Failed { status, committed: responses.received_headers() || body.overflowed().await })
        }
    }
}

/// Sends the rest of a streaming body on the committed attempt from `cursor` on, ending or cancelling the
/// request side as the source does.
pub(crate) async fn send_rest(
    send: &mut h2::SendStream<Bytes>,
    cursor: &mut usize,
    body: &Body,
    observed: &Option<Arc<ClientAttempt>>,
) -> Result<(), Status> {
    let Body::Stream(log) = body else { return Ok(()) };
    loop {
        let step = log.lock().await.next(cursor, &mut false).await;
        match step {
            Step::Message(data) => {
                let len = data.len();
                send_message(send, data, false).await?;
                sent(observed, len);
            }
            Step::End => return send_message(send, Bytes::new(), true).await,
            Step::Cancel(status) => {
                send.send_reset(h2::Reason::CANCEL);
                return Err(status);
            }
            Step::Behind => {
                send.send_reset(h2::Reason::CANCEL);
                return Err(Status::internal("a committed attempt fell behind its own messages"));
            }
        }
    }
}

/// Counts a framed message of `len` bytes as sent by an observed attempt.
fn sent(observed: &Option<Arc<ClientAttempt>>, len: usize) {
    if let Some(observed) = observed {
        observed.sent(len);
    }
}

/// The outcome of an attempt whose request may have failed to send: a server can answer (and reset the
/// stream) before it read the request, and then its answer, not the send error, says what happened,
/// unless all it says is that the stream ended.
pub(crate) fn prefer_response_status(received: Status, send_error: Option<Status>) -> Status {
    match send_error {
        Some(error) if matches!(received.code(), Code::Cancelled | Code::Internal) => error,
        _ => received,
    }
}
