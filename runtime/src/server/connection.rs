//! One HTTP/2 connection on the server. Its task drives the connection and every call on it: calls are
//! futures polled here rather than tasks of their own, so a call costs no spawn, and the responses that
//! become ready in one pass go out in one write.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::frame_watch::{FrameEvents, FrameWatch};
use super::lifetime::{Action, Lifetime};
use super::ping_policy::PingPolicy;
use super::{Peer, Shared};
use crate::keepalive::Pinger;

/// Serves one connection until the peer closes it, it fails, or a graceful shutdown has finished it.
pub(crate) async fn serve<IO>(io: IO, peer: Peer, shared: Arc<Shared>, shutdown: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    // Watched always: the handshake timeout runs until the client's first frame, and the ping policy (when
    // on) counts its PINGs.
    let events = Arc::new(FrameEvents::default());
    let io = FrameWatch::new(io, events.clone());
    let ping_policy = shared.config.keepalive_enforcement.map(PingPolicy::new);
    serve_h2(io, peer, shared, shutdown, events, ping_policy).await
}

async fn serve_h2<IO>(
    io: IO,
    peer: Peer,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    events: Arc<FrameEvents>,
    mut ping_policy: Option<PingPolicy>,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let handshake_deadline = tokio::time::Instant::now() + shared.config.handshake_timeout;
    let handshake = shared.config.h2().handshake::<_, Bytes>(io);
    let mut connection = match tokio::time::timeout_at(handshake_deadline, handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            tracing::debug!(peer = ?peer.addr, %error, "HTTP/2 handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = ?peer.addr, "HTTP/2 handshake timed out");
            return;
        }
    };
    let mut pinger = match (shared.config.keepalive, connection.ping_pong()) {
        (Some(settings), Some(ping_pong)) => {
            Some(Pinger::new(settings, ping_pong, None).count_into(peer.channelz.clone()))
        }
        _ => None,
    };
    let mut lifetime = Lifetime::new(shared.config.lifetime);
    let budget = shared.config.receive_budget();
    // Spawned calls each hold a clone, so the count of open calls includes them.
    let spawned = Arc::new(());
    let mut calls = FuturesUnordered::new();
    let mut shutdown_signal = pin!(async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    });
    let mut shutting_down = false;
    let mut calmed = false;
    // h2's handshake ends with the 24 magic bytes; the preface is only complete with the client's SETTINGS,
    // and a client that stops before them is not a connection yet, however long it waits.
    let mut preface_timeout = (!events.preface_done()).then(|| Box::pin(tokio::time::sleep_until(handshake_deadline)));
    poll_fn(|cx| {
        if let Some(timeout) = preface_timeout.as_mut() {
            if events.preface_done() {
                preface_timeout = None;
            } else if timeout.as_mut().poll(cx).is_ready() {
                tracing::debug!(peer = ?peer.addr, "the client sent no SETTINGS within the handshake timeout");
                return Poll::Ready(());
            }
        }
        if !shutting_down && shutdown_signal.as_mut().poll(cx).is_ready() {
            shutting_down = true;
            // GOAWAY: no new streams; the ones in flight finish.
            connection.graceful_shutdown();
        }
        if pinger.as_mut().is_some_and(|pinger| pinger.poll_dead(cx).is_ready()) {
            // Returning drops the connection and with it the calls polled here (spawned calls see a reset).
            tracing::debug!(peer = ?peer.addr, "the client did not answer a keepalive ping in time");
            return Poll::Ready(());
        }
        // Calls first, then the connection: driving the connection writes what the calls just queued, so the
        // responses of one pass leave in one write. Repeat while new streams arrive.
        loop {
            while let Poll::Ready(Some(())) = calls.poll_next_unpin(cx) {}
            let mut accepted = false;
            loop {
                match connection.poll_accept(cx) {
                    Poll::Ready(Some(Ok((request, respond)))) => {
                        if let Some(call) = shared.dispatch(request, respond, &peer, &budget) {
                            if shared.config.spawn_calls {
                                let token = spawned.clone();
                                tokio::spawn(async move {
                                    call.await;
                                    drop(token);
                                });
                            } else {
                                calls.push(call);
                                accepted = true;
                            }
                        }
                    }
                    Poll::Ready(Some(Err(error))) => {
                        tracing::debug!(peer = ?peer.addr, %error, "connection error");
                        return Poll::Ready(());
                    }
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => break,
                }
            }
            if let Some(policy) = ping_policy.as_mut() {
                if !calmed && policy.too_many_pings(&events, || connection.has_streams(), tokio::time::Instant::now) {
                    calmed = true;
                    tracing::debug!(peer = ?peer.addr, "the client pings too often: GOAWAY ENHANCE_YOUR_CALM");
                    // Then around again, so the connection writes the GOAWAY and closes.
                    connection.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                    continue;
                }
            }
            if !accepted {
                if !lifetime.is_active() {
                    return Poll::Pending;
                }
                match lifetime.poll(cx, calls.len() + Arc::strong_count(&spawned) - 1) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Action::Close) => {
                        tracing::debug!(peer = ?peer.addr, "closing the connection: the grace after its GOAWAY (age or idle) passed");
                        return Poll::Ready(());
                    }
                    // Then around again, so the connection writes the GOAWAY.
                    Poll::Ready(Action::GoAway) => {
                        if !shutting_down {
                            shutting_down = true;
                            connection.graceful_shutdown();
                        }
                    }
                }
            }
        }
    })
    .await;
}
