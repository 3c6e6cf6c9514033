//! `corsair broker --batch N`: requests that reach the broker together
//! go to one worker with credit, up to N, instead of one to each idle
//! worker. A raw ZMTP client writes four requests in one TCP write, so
//! that the broker reads them in one turn; two libzmq Paranoid Pirate
//! workers with credit 8 report where each request went.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
// Links libzmq (built by corsair-libzmq) for the zmq sockets below.
use corsair as _;

/// Sends one burst of four requests and returns how many each worker
/// got, after answering them all and reading the four replies.
fn burst(client: &mut std::net::TcpStream, workers: &[zmq::Socket], tag: &str) -> Vec<usize> {
    let mut bytes = Vec::new();
    for i in 0..4 {
        let id = format!("{tag}{i}");
        bytes.extend(zmtp_message(&[id.as_bytes(), b"", b"body"]));
    }
    client.write_all(&bytes).unwrap();
    let mut got = vec![0; workers.len()];
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.iter().sum::<usize>() < 4 {
        assert!(Instant::now() < deadline, "requests lost: got {got:?}");
        for (n, w) in got.iter_mut().zip(workers) {
            if w.poll(zmq::POLLIN, 10).unwrap() == 0 {
                continue;
            }
            let msg = w.recv_multipart(0).unwrap();
            if msg.len() == 1 {
                continue; // a heartbeat
            }
            *n += 1;
            w.send_multipart(msg, 0).unwrap();
        }
    }
    let mut replies: Vec<String> = (0..4)
        .map(|_| {
            let (command, frames) = read_zmtp(client);
            assert!(!command, "{frames:?}");
            assert_eq!(frames[1..], [b"".to_vec(), b"body".to_vec()]);
            String::from_utf8(frames[0].clone()).unwrap()
        })
        .collect();
    replies.sort();
    let want: Vec<String> = (0..4).map(|i| format!("{tag}{i}")).collect();
    assert_eq!(replies, want, "every request answered once");
    got
}

/// Two bursts through a broker started with `flags`; returns the split
/// of each burst between the two workers.
fn splits(flags: &[&str]) -> Vec<Vec<usize>> {
    let mut broker = start_broker(flags);
    let ctx = zmq::Context::new();
    let workers: Vec<zmq::Socket> = (0..2)
        .map(|i| {
            let w = ctx.socket(zmq::DEALER).unwrap();
            w.set_linger(0).unwrap();
            w.set_identity(format!("w{i}").as_bytes()).unwrap();
            w.connect(&broker.backend).unwrap();
            w.send_multipart([&[1u8][..], b"8"], 0).unwrap();
            w
        })
        .collect();
    broker
        .proc
        .wait_for_count("worker registered", 2, Duration::from_secs(10));
    let mut client = raw(&broker.frontend);
    client.write_all(&zmtp3_hello("DEALER")).unwrap();
    let mut greeting = [0u8; 64];
    std::io::Read::read_exact(&mut client, &mut greeting).unwrap();
    let (command, ready) = read_zmtp(&mut client);
    assert!(command && ready[0].starts_with(b"\x05READY"), "{ready:?}");
    let out = vec![
        burst(&mut client, &workers, "a"),
        burst(&mut client, &workers, "b"),
    ];
    broker.stop();
    out
}

#[test]
fn requests_that_arrive_together_go_to_one_worker_with_a_batch() {
    let _bomb = time_bomb("batch", Duration::from_secs(60));
    let split = splits(&["--batch", "4"]);
    // All four to one worker, then (the turn over, that worker the most
    // recently used) all four of the next burst to the other.
    assert!(
        split == [vec![4, 0], vec![0, 4]] || split == [vec![0, 4], vec![4, 0]],
        "{split:?}"
    );
}

#[test]
fn without_a_batch_each_request_goes_to_the_least_recently_used_worker() {
    let _bomb = time_bomb("no batch", Duration::from_secs(60));
    assert_eq!(splits(&[]), [vec![2, 2], vec![2, 2]]);
}
