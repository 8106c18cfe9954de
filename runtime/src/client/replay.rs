//! What a call sends, kept for the attempts after the first: gRFC A6's retry buffer, one for every call
//! kind. A unary or server-streaming call's one message is known before the first attempt and sent whole by
//! each; a client- or bidirectional-streaming call's messages are pulled from the caller once, as the
//! leading attempt needs them, and kept (up to the channel's retry buffer) for attempts that start later:
//! a retry after a failure, or a hedge running beside the first.

use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::status::Status;

/// One item of a streaming call's request side, encoded.
pub(crate) enum Outgoing {
    /// A framed message, ready for the wire.
    Message(Bytes),
    /// The request side failed (the caller gave up, an interceptor or the encoder failed): the call is
    /// cancelled with this status, never ended as complete.
    Cancel(Status),
}

/// Where a streaming call's request items come from; its end is the end of a complete request stream.
pub(crate) type Source = Pin<Box<dyn Stream<Item = Outgoing> + Send>>;

/// A call's request side, shared by its attempts.
pub(crate) enum Body {
    /// One message, sent whole by every attempt (unary and server-streaming calls).
    Single(Bytes),
    /// Messages that arrive over time (client- and bidirectional-streaming calls).
    Stream(tokio::sync::Mutex<Log>),
}

/// The messages a streaming call pulled so far, and what is left of them to send again.
pub(crate) struct Log {
    source: Source,
    kept: Vec<Bytes>,
    /// Messages pulled from the source, kept or not.
    pulled: usize,
    bytes: usize,
    limit: usize,
    /// More was pulled than kept: an attempt that has not sent it all can never catch up.
    overflowed: bool,
    /// The call is committed to one attempt: nothing more needs keeping.
    committed: bool,
    /// How the source ended, once it did.
    ended: Option<Result<(), Status>>,
}

/// What an attempt sends next.
pub(crate) enum Step {
    Message(Bytes),
    End,
    Cancel(Status),
    /// The attempt is behind what the buffer kept: it cannot send the call's messages again.
    Behind,
}

impl Body {
    /// A streaming call's body, keeping up to `limit` bytes for later attempts (0 with a single attempt).
    pub(crate) fn stream(source: Source, limit: usize) -> Body {
        Body::Stream(tokio::sync::Mutex::new(Log {
            source,
            kept: Vec::new(),
            pulled: 0,
            bytes: 0,
            limit,
            overflowed: false,
            committed: false,
            ended: None,
        }))
    }

    /// Whether more was sent than kept, so that no later attempt could send it all again.
    pub(crate) async fn overflowed(&self) -> bool {
        match self {
            Body::Single(_) => false,
            Body::Stream(log) => log.lock().await.overflowed,
        }
    }

    /// The call is committed to one attempt: what was kept is freed and nothing more is kept.
    pub(crate) async fn commit(&self) {
        if let Body::Stream(log) = self {
            let mut log = log.lock().await;
            log.committed = true;
            log.kept = Vec::new();
        }
    }
}

impl Log {
    /// The item after the `cursor` an attempt has sent so far: from the kept messages while the attempt is
    /// behind, else pulled from the source. `overflowed` is set when this pull is the one that exceeded the
    /// buffer (a hedged call then commits to the attempt that pulled it).
    pub(crate) async fn next(&mut self, cursor: &mut usize, overflowed: &mut bool) -> Step {
        if *cursor < self.pulled {
            if self.overflowed || self.committed {
                return Step::Behind;
            }
            let data = self.kept[*cursor].clone();
            *cursor += 1;
            return Step::Message(data);
        }
        if let Some(ended) = &self.ended {
            return match ended {
                Ok(()) => Step::End,
                Err(status) => Step::Cancel(status.clone()),
            };
        }
        match self.source.next().await {
            Some(Outgoing::Message(data)) => {
                self.pulled += 1;
                *cursor += 1;
                if !self.committed && !self.overflowed {
                    self.bytes += data.len();
                    if self.bytes > self.limit {
                        self.overflowed = true;
                        *overflowed = true;
                        self.kept = Vec::new();
                    } else {
                        self.kept.push(data.clone());
                    }
                }
                Step::Message(data)
            }
            None => {
                self.ended = Some(Ok(()));
                Step::End
            }
            Some(Outgoing::Cancel(status)) => {
                self.ended = Some(Err(status.clone()));
                Step::Cancel(status)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(items: Vec<Outgoing>) -> Source {
        Box::pin(futures_util::stream::iter(items))
    }

    fn message(text: &'static str) -> Outgoing {
        Outgoing::Message(Bytes::from_static(text.as_bytes()))
    }

    async fn next(body: &Body, cursor: &mut usize) -> (Step, bool) {
        let Body::Stream(log) = body else { unreachable!("a streaming body") };
        let mut overflowed = false;
        let step = log.lock().await.next(cursor, &mut overflowed).await;
        (step, overflowed)
    }

    fn text(step: &Step) -> &str {
        match step {
            Step::Message(data) => std::str::from_utf8(data).unwrap(),
            Step::End => "<end>",
            Step::Cancel(_) => "<cancel>",
            Step::Behind => "<behind>",
        }
    }

    #[tokio::test]
    async fn a_later_attempt_replays_what_the_first_pulled_then_pulls_on() {
        let body = Body::stream(source(vec![message("a"), message("b"), message("c")]), 100);
        let (mut first, mut second) = (0, 0);
        assert_eq!(text(&next(&body, &mut first).await.0), "a");
        assert_eq!(text(&next(&body, &mut first).await.0), "b");
        assert_eq!(text(&next(&body, &mut second).await.0), "a");
        assert_eq!(text(&next(&body, &mut second).await.0), "b");
        assert_eq!(text(&next(&body, &mut second).await.0), "c");
        // The first attempt now replays what the second pulled.
        assert_eq!(text(&next(&body, &mut first).await.0), "c");
        assert_eq!(text(&next(&body, &mut first).await.0), "<end>");
        assert_eq!(text(&next(&body, &mut second).await.0), "<end>");
    }

    #[tokio::test]
    async fn past_the_limit_nothing_is_kept_and_a_later_attempt_is_behind() {
        let body = Body::stream(source(vec![message("aaaa"), message("bbbb")]), 6);
        let (mut first, mut second) = (0, 0);
        assert!(!next(&body, &mut first).await.1);
        let (step, overflowed) = next(&body, &mut first).await;
        assert_eq!(text(&step), "bbbb");
        assert!(overflowed, "the pull that exceeded the buffer says so");
        assert!(body.overflowed().await);
        assert_eq!(text(&next(&body, &mut second).await.0), "<behind>");
    }

    #[tokio::test]
    async fn a_cancelled_source_cancels_every_attempt_that_reaches_it() {
        let body = Body::stream(source(vec![message("a"), Outgoing::Cancel(Status::cancelled("gone"))]), 100);
        let (mut first, mut second) = (0, 0);
        next(&body, &mut first).await;
        assert_eq!(text(&next(&body, &mut first).await.0), "<cancel>");
        assert_eq!(text(&next(&body, &mut second).await.0), "a");
        assert_eq!(text(&next(&body, &mut second).await.0), "<cancel>");
    }

    #[tokio::test]
    async fn after_commit_nothing_is_kept() {
        let body = Body::stream(source(vec![message("a"), message("b")]), 100);
        let mut first = 0;
        next(&body, &mut first).await;
        body.commit().await;
        let mut late = 0;
        assert_eq!(text(&next(&body, &mut late).await.0), "<behind>");
        assert_eq!(text(&next(&body, &mut first).await.0), "b");
    }
}
