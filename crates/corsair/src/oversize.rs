//! Counting the connections libzmq drops for a message over
//! `ZMQ_MAXMSGSIZE`.
//!
//! libzmq refuses such a message in its decoder, before the broker sees a
//! byte of it, and drops the connection. The libzmq corsair builds (see
//! `corsair-libzmq`'s build script) reports that to socket monitors as
//! `ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL` with the value `EMSGSIZE`; a
//! thread here watches every broker socket for it, logs each one and
//! counts them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use tracing::warn;

/// How often the thread looks at its stop flag (milliseconds).
const STOP_POLL_MS: i64 = 100;

/// Names the monitor endpoints apart within one process.
static NEXT_MONITOR: AtomicUsize = AtomicUsize::new(0);

/// A thread counting oversize refusals on a set of sockets.
pub struct OversizeMonitor {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
    refused: Arc<AtomicU64>,
}

impl OversizeMonitor {
    /// Starts monitoring `sockets`. Monitor before binding, so no
    /// connection is missed.
    pub fn start(ctx: &zmq::Context, sockets: &[&zmq::Socket]) -> zmq::Result<Self> {
        let mut watched = Vec::with_capacity(sockets.len());
        for socket in sockets {
            let address = format!(
                "inproc://corsair-oversize-{}-{}",
                std::process::id(),
                NEXT_MONITOR.fetch_add(1, Ordering::Relaxed)
            );
            socket.monitor(
                &address,
                zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw().into(),
            )?;
            let pair = ctx.socket(zmq::PAIR)?;
            pair.set_linger(0)?;
            pair.connect(&address)?;
            watched.push(pair);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, refused) = (stop.clone(), refused.clone());
            thread::Builder::new()
                .name("corsair-oversize".into())
                .spawn(move || watch(&watched, &stop, &refused))
                .map_err(|_| zmq::Error::EMFILE)?
        };
        Ok(OversizeMonitor {
            stop,
            thread: Some(thread),
            refused,
        })
    }

    /// Connections dropped so far for an oversized message.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Drop for OversizeMonitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(watched: &[zmq::Socket], stop: &AtomicBool, refused: &AtomicU64) {
    let mut items: Vec<_> = watched
        .iter()
        .map(|pair| pair.as_poll_item(zmq::POLLIN))
        .collect();
    while !stop.load(Ordering::Relaxed) {
        match zmq::poll(&mut items, STOP_POLL_MS) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(zmq::Error::EINTR) => continue,
            Err(e) => {
                warn!(error = %e, "oversize monitor stopped");
                return;
            }
        }
        for (item, pair) in items.iter().zip(watched) {
            if !item.is_readable() {
                continue;
            }
            while let Ok(event) = pair.recv_multipart(zmq::DONTWAIT) {
                if is_oversize(&event) {
                    refused.fetch_add(1, Ordering::Relaxed);
                    // The event's second frame names the endpoint as
                    // bound (port resolved).
                    let endpoint = event.get(1).map(|e| String::from_utf8_lossy(e));
                    warn!(
                        endpoint = %endpoint.as_deref().unwrap_or("?"),
                        "message over the size limit: connection dropped, message discarded"
                    );
                }
            }
        }
    }
}

/// True for a monitor event (version 1: a frame of event number, `u16`,
/// and value, `u32`, little-endian, then the endpoint) that reports a
/// connection dropped for `EMSGSIZE`.
fn is_oversize(event: &[Vec<u8>]) -> bool {
    let Some(head) = event.first().filter(|h| h.len() == 6) else {
        return false;
    };
    let number = u16::from_le_bytes([head[0], head[1]]);
    let value = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
    number == zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw()
        && i64::from(value) == i64::from(zmq::Error::EMSGSIZE.to_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_for(what: impl Fn() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if what() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn events_other_than_an_oversize_drop_are_not_counted() {
        let event = |n: u16, v: u32| {
            let mut head = n.to_le_bytes().to_vec();
            head.extend(v.to_le_bytes());
            vec![head, b"tcp://127.0.0.1:1".to_vec()]
        };
        let nd = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw();
        let emsgsize = zmq::Error::EMSGSIZE.to_raw() as u32;
        assert!(is_oversize(&event(nd, emsgsize)));
        assert!(!is_oversize(&event(nd, 104)), "a reset during handshake");
        let disconnected = zmq::SocketEvent::DISCONNECTED.to_raw();
        assert!(!is_oversize(&event(disconnected, emsgsize)));
        assert!(!is_oversize(&[b"short".to_vec()]));
        assert!(!is_oversize(&[]));
    }

    #[test]
    fn a_message_over_maxmsgsize_is_counted_and_a_peer_leaving_is_not() {
        use corsair_libzmq as _;
        let ctx = zmq::Context::new();
        let router = ctx.socket(zmq::ROUTER).unwrap();
        router.set_linger(0).unwrap();
        router.set_maxmsgsize(100).unwrap();
        let monitor = OversizeMonitor::start(&ctx, &[&router]).unwrap();
        router.bind("tcp://127.0.0.1:0").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();

        // A peer that sends a small message and leaves: not counted.
        let polite = ctx.socket(zmq::DEALER).unwrap();
        polite.set_linger(0).unwrap();
        polite.connect(&endpoint).unwrap();
        polite.send("small", 0).unwrap();
        assert!(router.poll(zmq::POLLIN, 10_000).unwrap() > 0);
        router.recv_multipart(0).unwrap();
        drop(polite);

        // Two peers over the limit: both counted, neither delivered.
        for _ in 0..2 {
            let rude = ctx.socket(zmq::DEALER).unwrap();
            rude.set_linger(1000).unwrap();
            rude.connect(&endpoint).unwrap();
            rude.send(vec![0u8; 1000], 0).unwrap();
        }
        assert!(
            wait_for(|| monitor.refused() == 2),
            "refused {}",
            monitor.refused()
        );
        assert_eq!(router.poll(zmq::POLLIN, 200).unwrap(), 0);
        thread::sleep(Duration::from_millis(200));
        assert_eq!(monitor.refused(), 2, "the polite peer was not counted");
    }
}
