//! Connecting to a name of several addresses, RFC 8305 style ("Happy Eyeballs v2"): the
//! addresses alternate between the families, starting with the resolver's first; one
//! attempt starts, and the next one joins it if it has not connected after the connection
//! attempt delay, or at once when it fails. The first to connect wins and the others are
//! dropped (their sockets closed). Each dial also starts at its own turn within each family,
//! so that new connections spread over a name's addresses.
//!
//! The attempts are futures polled here, in the dial's own task: nothing is spawned, and a
//! dial that is dropped (its deadline passed) drops every attempt with it.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

/// RFC 8305's recommended connection attempt delay.
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The order a dial tries `addrs` in: the family of the first address first, then the other
/// family, alternating; within each family the resolver's order, rotated by `turn`.
pub(crate) fn order(addrs: &[SocketAddr], turn: usize) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut primary, mut other): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|a| a.is_ipv6() == first.is_ipv6());
    for family in [&mut primary, &mut other] {
        if !family.is_empty() {
            let by = turn % family.len();
            family.rotate_left(by);
        }
    }
    let mut out = Vec::with_capacity(addrs.len());
    let (mut p, mut o) = (primary.into_iter(), other.into_iter());
    loop {
        match (p.next(), o.next()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Runs `attempt` on the addresses in the order given, overlapping them as described above,
/// and returns the first that succeeds; when all fail, the last failure.
pub(crate) async fn race<T, F, Fut>(
    addrs: &[SocketAddr],
    delay: Duration,
    mut attempt: F,
) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut rest = addrs;
    let mut running: Vec<Pin<Box<Fut>>> = Vec::with_capacity(addrs.len());
    let mut last = None;
    let mut timer = pin!(tokio::time::sleep(delay));
    let mut start_next = true;
    poll_fn(|cx| loop {
        if std::mem::take(&mut start_next) {
            if let Some((addr, tail)) = rest.split_first() {
                rest = tail;
                running.push(Box::pin(attempt(*addr)));
                timer.as_mut().reset(tokio::time::Instant::now() + delay);
            }
        }
        let mut i = 0;
        while i < running.len() {
            match running[i].as_mut().poll(cx) {
                Poll::Ready(Ok(won)) => return Poll::Ready(Ok(won)),
                Poll::Ready(Err(e)) => {
                    last = Some(e);
                    drop(running.swap_remove(i));
                    // A failure does not wait for the delay: the next address goes now.
                    start_next = true;
                }
                Poll::Pending => i += 1,
            }
        }
        if rest.is_empty() {
            start_next = false;
            if running.is_empty() {
                return Poll::Ready(Err(last.take().unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no address to connect to")
                })));
            }
            return Poll::Pending;
        }
        if start_next || timer.as_mut().poll(cx).is_ready() {
            start_next = true;
            continue;
        }
        return Poll::Pending;
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn families_alternate_and_rotate_within_themselves() {
        let list = addrs(&["[::1]:1", "[::2]:1", "[::3]:1", "10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(
            order(&list, 0),
            addrs(&["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"])
        );
        assert_eq!(
            order(&list, 1),
            addrs(&["[::2]:1", "10.0.0.2:1", "[::3]:1", "10.0.0.1:1", "[::1]:1"])
        );
        // The resolver's first family stays first.
        let v4_first = addrs(&["10.0.0.1:1", "[::1]:1", "10.0.0.2:1"]);
        assert_eq!(
            order(&v4_first, 1),
            addrs(&["10.0.0.2:1", "[::1]:1", "10.0.0.1:1"])
        );
        assert_eq!(order(&[], 3), Vec::<SocketAddr>::new());
    }
}
