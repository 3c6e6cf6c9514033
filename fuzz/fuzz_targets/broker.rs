//! The pure broker core fed arbitrary sequences of messages on every
//! socket, deadlines and undeliverable sends: it must not panic, every
//! message it produces starts with a peer's identity, its queue stays
//! within its bound, and its workers never hold more attempts than it has
//! requests in flight (a credit is never leaked). They may hold fewer: a
//! fetch worker that asks again gives up its hold while its attempt
//! stays open for an answer still on its way over the answers socket.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use corsair_core::{Broker, BrokerConfig, Side};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Event {
    /// A message from peer `from` (one of a few identities) on a socket.
    Message {
        side: u8,
        from: u8,
        frames: Vec<Vec<u8>>,
    },
    /// Time passes by `ms` and deadlines are handled.
    Tick { ms: u16 },
    /// The last message the broker sent could not be delivered.
    Undeliverable,
}

fuzz_target!(|events: Vec<Event>| {
    let t0 = Instant::now();
    let config = BrokerConfig {
        queue_limit: 16,
        attempt_timeout: Some(Duration::from_millis(300)),
        wait_limit: Some(Duration::from_millis(2000)),
        ..BrokerConfig::default()
    };
    let mut broker = Broker::new(config, t0);
    let mut now = t0;
    let mut last: Option<(Side, Vec<Bytes>)> = None;
    for event in events {
        match event {
            Event::Message { side, from, frames } => {
                let side = match side % 3 {
                    0 => Side::Frontend,
                    1 => Side::Backend,
                    _ => Side::Fetch,
                };
                let identity = Bytes::from(vec![b'p', from % 6]);
                let frames = frames.into_iter().map(Bytes::from).collect();
                broker.handle_message(now, side, identity, frames);
            }
            Event::Tick { ms } => {
                now += Duration::from_millis(u64::from(ms));
                broker.handle_timeout(now);
            }
            Event::Undeliverable => {
                if let Some((side, frames)) = last.take() {
                    broker.handle_undeliverable(now, side, &frames);
                }
            }
        }
        while let Some(out) = broker.poll_output() {
            assert!(
                !out.frames.is_empty() && !out.frames[0].is_empty(),
                "{out:?}"
            );
            last = Some((out.side, out.frames));
        }
        assert!(broker.queued() <= 16);
        assert!(broker.attempts_held() <= broker.in_flight());
    }
});
