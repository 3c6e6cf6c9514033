//! On Linux the linked libzmq uses what the platform has that
//! `zeromq-src`'s empty `platform.hpp` leaves out: `eventfd` to wake its
//! threads, and TCP keepalive when a socket asks for it.
#![cfg(target_os = "linux")]

use std::fs;

use corsair_libzmq as _;

#[test]
fn a_socket_is_woken_through_an_eventfd() {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PAIR).expect("socket");
    // ZMQ_FD is the socket's mailbox signaler: an eventfd, or with a
    // socket pair in its place, a Unix socket.
    let fd = socket.get_fd().expect("ZMQ_FD");
    let target = fs::read_link(format!("/proc/self/fd/{fd}")).expect("readlink ZMQ_FD");
    assert_eq!(target.to_string_lossy(), "anon_inode:[eventfd]");
}

/// One line of `/proc/net/tcp`.
struct Connection {
    local_port: u16,
    remote_port: u16,
    /// `01`: established.
    state: String,
    /// 2: the keepalive timer.
    timer: u32,
    /// When the timer fires, in clock ticks (USER_HZ) from now.
    when: u64,
}

fn connections() -> Vec<Connection> {
    let table = fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (timer, when) = f.get(5)?.split_once(':')?;
            Some(Connection {
                local_port: port(f.get(1)?)?,
                remote_port: port(f.get(2)?)?,
                state: f.get(3)?.to_string(),
                timer: timer.parse().ok()?,
                when: u64::from_str_radix(when, 16).ok()?,
            })
        })
        .collect()
}

#[test]
fn tcp_keepalive_options_reach_the_connection() {
    let ctx = zmq::Context::new();
    let server = ctx.socket(zmq::ROUTER).expect("router");
    server.set_linger(0).expect("linger");
    server.set_rcvtimeo(5_000).expect("rcvtimeo");
    server.bind("tcp://127.0.0.1:*").expect("bind");
    let endpoint = server
        .get_last_endpoint()
        .expect("endpoint")
        .expect("utf-8 endpoint");
    let server_port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();

    let client = ctx.socket(zmq::DEALER).expect("dealer");
    client.set_linger(0).expect("linger");
    client.set_tcp_keepalive(1).expect("keepalive");
    client.set_tcp_keepalive_idle(600).expect("keepalive idle");
    client
        .set_tcp_keepalive_intvl(30)
        .expect("keepalive interval");
    client.set_tcp_keepalive_cnt(4).expect("keepalive count");
    client.connect(&endpoint).expect("connect");
    client.send("ping", 0).expect("send");
    // The message arriving means the connection is up.
    let frames = server.recv_multipart(0).expect("the ping within 5 s");
    assert_eq!(frames.last().map(Vec::as_slice), Some(&b"ping"[..]));

    // The client's end of the connection: the established one whose
    // remote port is the server's. Once the ping is acknowledged (no
    // retransmit timer), an idle connection with SO_KEEPALIVE has its
    // keepalive timer armed, about TCP_KEEPIDLE ahead; without it, none.
    let client_end = || {
        connections()
            .into_iter()
            .find(|c| c.remote_port == server_port && c.state == "01")
            .expect("the client's established connection in /proc/net/tcp")
    };
    let mut conn = client_end();
    for _ in 0..200 {
        if conn.timer != 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        conn = client_end();
    }
    assert_eq!(
        conn.timer, 2,
        "no keepalive timer on the client's connection (local port {})",
        conn.local_port
    );
    let hz = 100; // USER_HZ, the unit of /proc/net/tcp's timers
    assert!(
        conn.when > 500 * hz && conn.when <= 600 * hz,
        "keepalive due in {} ticks, expected about 600 s",
        conn.when
    );
}
