//! A deadline on a connection's opening bytes, so a client that connects and stays silent (or
//! stops halfway through the HTTP/2 preface) cannot hold a connection slot.
//!
//! hyper's `header_read_timeout` starts only once hyper-util's auto builder has read enough to
//! choose HTTP/1 or HTTP/2, and HTTP/2 has no deadline for the client's opening SETTINGS frame
//! at all. This wrapper fails the read with `TimedOut` unless, within the deadline, the client
//! sends either the first byte of an HTTP/1 request (hyper's header deadline covers the rest) or
//! the whole HTTP/2 preface plus the header of the SETTINGS frame that must follow it (RFC 9113
//! §3.4). After that it is a plain pass-through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The preface and the 9-byte header of the SETTINGS frame that follows it.
const H2_OPENING: usize = PREFACE.len() + 9;

/// An IO stream whose first bytes must arrive before a deadline.
pub struct OpeningDeadline<IO> {
    io: IO,
    /// `None` once the opening is complete.
    deadline: Option<Pin<Box<Sleep>>>,
    /// How many opening bytes have been read so far.
    seen: usize,
}

impl<IO> OpeningDeadline<IO> {
    /// Wraps `io`; the deadline starts now.
    pub fn new(io: IO, within: Duration) -> Self {
        OpeningDeadline {
            io,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
            seen: 0,
        }
    }

    /// Whether the opening is complete after `bytes` more were read.
    fn observe(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if self.seen < PREFACE.len() && PREFACE[self.seen] != b {
                // Not (or no longer) an HTTP/2 preface: an HTTP/1 request, or garbage that
                // the HTTP/1 parser rejects at once.
                return true;
            }
            self.seen += 1;
            if self.seen >= H2_OPENING {
                return true;
            }
        }
        false
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for OpeningDeadline<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.deadline.is_none() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                let done = fresh.is_empty() || this.observe(fresh);
                if done {
                    this.deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent no request within server.header_read_timeout",
                ))),
                _ => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for OpeningDeadline<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn silence_times_out() {
        let (_client, server) = tokio::io::duplex(64);
        let mut s = OpeningDeadline::new(server, Duration::from_millis(100));
        let mut buf = [0u8; 8];
        let e = s.read(&mut buf).await.expect_err("deadline");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn half_a_preface_times_out() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut s = OpeningDeadline::new(server, Duration::from_millis(100));
        client.write_all(&PREFACE[..16]).await.expect("write");
        let mut buf = [0u8; 64];
        assert_eq!(s.read(&mut buf).await.expect("first bytes"), 16);
        let e = s.read(&mut buf).await.expect_err("deadline");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn an_http1_byte_or_a_full_h2_opening_lifts_the_deadline() {
        for opening in [
            &b"G"[..],
            &[PREFACE, &[0, 0, 0, 4, 0, 0, 0, 0, 0][..]].concat(),
        ] {
            let (mut client, server) = tokio::io::duplex(64);
            let mut s = OpeningDeadline::new(server, Duration::from_millis(100));
            client.write_all(opening).await.expect("write");
            let mut buf = [0u8; 64];
            assert_eq!(s.read(&mut buf).await.expect("opening"), opening.len());
            tokio::time::sleep(Duration::from_millis(300)).await;
            client.write_all(b"x").await.expect("write");
            assert_eq!(s.read(&mut buf).await.expect("later bytes"), 1);
        }
    }
}
