//! Large frames through the broker: bodies from just under to well over
//! the size from which the broker hands frames to libzmq without a copy
//! come back to the right client intact, in both directions.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
// Links the libzmq corsair builds, which the raw sockets here use.
use corsair as _;

#[test]
fn bodies_of_every_size_come_back_intact() {
    let _bomb = time_bomb("large", Duration::from_secs(120));
    let mut broker = start_broker(&["-v"]);
    let _worker = broker.worker("worker", &["--credit", "8"]);

    let ctx = zmq::Context::new();
    let client = ctx.socket(zmq::DEALER).unwrap();
    client.set_linger(0).unwrap();
    client.connect(&broker.frontend).unwrap();
    // Each body is a pattern its size and position decide, so a swapped,
    // cut or stale buffer shows.
    let sizes = [1, 1023, 1024, 1025, 4096, 65_536, 1_000_000];
    let body = |n: usize| -> Vec<u8> { (0..n).map(|i| ((i * 31 + n) % 251) as u8).collect() };
    let mut sent = HashMap::new();
    for (round, &n) in sizes.iter().cycle().take(3 * sizes.len()).enumerate() {
        let tag = format!("t{round}").into_bytes();
        client
            .send_multipart([tag.clone(), vec![], body(n)], 0)
            .unwrap();
        sent.insert(tag, n);
    }
    while !sent.is_empty() {
        assert!(
            client.poll(zmq::POLLIN, 20_000).unwrap() > 0,
            "replies missing for {:?}",
            sent.keys()
                .map(|t| String::from_utf8_lossy(t))
                .collect::<Vec<_>>()
        );
        let reply = client.recv_multipart(0).unwrap();
        assert_eq!(reply.len(), 3, "tag, delimiter, body");
        let n = sent
            .remove(&reply[0])
            .expect("a reply to a request sent, once");
        assert_eq!(reply[2].len(), n);
        assert!(reply[2] == body(n), "body of {n} bytes changed on the way");
    }
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 3 * sizes.len() as u64);
}
