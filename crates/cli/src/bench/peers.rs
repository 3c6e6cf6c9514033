//! The load generator's peers: lean clients and echo workers on raw
//! sockets, moving `zmq::Message`s without copying payloads, so that the
//! broker is what is measured.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use corsair::security::CurveClient;
use corsair::zmq;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::unix::SourceFd;
use mio::{Interest, Token};

/// libzmq's I/O batch (`ZMQ_IN_BATCH_SIZE` / `ZMQ_OUT_BATCH_SIZE`) of the
/// load's own sockets, clients and echo workers: `bench --io-batch`, set
/// once before any load starts.
pub static IO_BATCH: AtomicI32 = AtomicI32::new(DEFAULT_IO_BATCH);

/// `--io-batch`'s default: 64 KiB, as corsair's own sockets (stock
/// libzmq: 8 KiB, which makes the load generator, not the broker, the
/// limit at 4 KiB messages).
pub const DEFAULT_IO_BATCH: i32 = corsair::frames::IO_BATCH;

/// Client dialects of the load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientDialect {
    /// Plain (Lazy Pirate framing) over DEALER: `tag "" body`.
    Plain,
    /// MDP/0.1 framing over DEALER: `tag "" MDPC01 service body`.
    Mdp,
    /// MDP/0.2 framing over DEALER: `tag "" MDPC02 0x01 service body`.
    Mdp2,
}

/// Worker dialects of the load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerDialect {
    /// Paranoid Pirate (DEALER, heartbeats).
    Ppp,
    /// Majordomo 0.1.
    Mdp,
    /// Majordomo 0.2.
    Mdp2,
    /// A plain REP echo (for libzmq's proxy).
    Rep,
}

/// Counters shared by the clients of one run.
#[derive(Default)]
pub struct Shared {
    /// Replies received.
    pub replies: AtomicU64,
    /// Failure replies and malformed replies.
    pub errors: AtomicU64,
    /// Set to stop sending.
    pub stop: AtomicBool,
}

/// What one client measured.
pub struct ClientResult {
    /// Latencies in microseconds.
    pub hist: Histogram<u64>,
    /// Requests never answered before the client gave up.
    pub lost: u64,
}

fn send_all(socket: &zmq::Socket, frames: Vec<zmq::Message>) -> zmq::Result<()> {
    let last = frames.len().saturating_sub(1);
    for (i, f) in frames.into_iter().enumerate() {
        socket.send(f, if i < last { zmq::SNDMORE } else { 0 })?;
    }
    Ok(())
}

fn recv_all(socket: &zmq::Socket, flags: i32) -> zmq::Result<Vec<zmq::Message>> {
    let mut frames = vec![socket.recv_msg(flags)?];
    while socket.get_rcvmore()? {
        frames.push(socket.recv_msg(0)?);
    }
    Ok(frames)
}

/// Runs one client: keeps `window` requests in flight until `budget`
/// requests are sent (or `shared.stop`), then waits up to `grace` for the
/// rest. Each request's tag is its send time, so no table is needed.
#[allow(clippy::too_many_arguments)]
pub fn client(
    ctx: &zmq::Context,
    endpoint: &str,
    dialect: ClientDialect,
    service: &str,
    size: usize,
    window: usize,
    budget: Option<u64>,
    shared: &Shared,
    grace: Duration,
    curve: Option<&CurveClient>,
) -> zmq::Result<ClientResult> {
    let mut socket = ctx.socket(zmq::DEALER)?;
    socket.set_linger(0)?;
    corsair_libzmq::set_batch_size(&mut socket, IO_BATCH.load(Ordering::Relaxed))?;
    CurveClient::apply_opt(curve, &socket)?;
    socket.set_sndhwm(0)?;
    socket.set_rcvhwm(0)?;
    socket.connect(endpoint)?;
    let start = Instant::now();
    let payload = vec![b'x'; size];
    let make = |now: Instant| -> Vec<zmq::Message> {
        let tag = (now - start).as_nanos() as u64;
        let mut f = vec![
            zmq::Message::from(&tag.to_be_bytes()[..]),
            zmq::Message::new(),
        ];
        match dialect {
            ClientDialect::Plain => {}
            ClientDialect::Mdp => {
                f.push(zmq::Message::from(&b"MDPC01"[..]));
                f.push(zmq::Message::from(service.as_bytes()));
            }
            ClientDialect::Mdp2 => {
                f.push(zmq::Message::from(&b"MDPC02"[..]));
                f.push(zmq::Message::from(&[1u8][..]));
                f.push(zmq::Message::from(service.as_bytes()));
            }
        }
        f.push(zmq::Message::from(&payload[..]));
        f
    };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut sent, mut outstanding) = (0u64, 0u64);
    let can_send =
        |sent: u64| !shared.stop.load(Ordering::Relaxed) && budget.is_none_or(|b| sent < b);
    while outstanding < window as u64 && can_send(sent) {
        send_all(&socket, make(Instant::now()))?;
        sent += 1;
        outstanding += 1;
    }
    let mut deadline: Option<Instant> = None;
    while outstanding > 0 {
        if deadline.is_none() && !can_send(sent) {
            deadline = Some(Instant::now() + grace);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if socket.poll(zmq::POLLIN, 50)? == 0 {
            continue;
        }
        loop {
            let frames = match recv_all(&socket, zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => break,
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            outstanding -= 1;
            let tag = frames
                .first()
                .and_then(|t| <[u8; 8]>::try_from(&t[..]).ok())
                .map(u64::from_be_bytes);
            // A reply carries the payload back; anything shorter is the
            // broker's failure reply (or garbage).
            let ok = frames.last().is_some_and(|b| b.len() == size) && tag.is_some();
            if ok {
                let sent_at = start + Duration::from_nanos(tag.unwrap_or(0));
                hist.saturating_record((now - sent_at).as_micros().max(1) as u64);
                shared.replies.fetch_add(1, Ordering::Relaxed);
            } else {
                if std::env::var_os("CORSAIR_BENCH_DEBUG").is_some() {
                    let shown: Vec<_> = frames.iter().map(|f| f.len()).collect();
                    eprintln!("unexpected reply, frame sizes {shown:?}");
                }
                shared.errors.fetch_add(1, Ordering::Relaxed);
            }
            if can_send(sent) {
                send_all(&socket, make(now))?;
                sent += 1;
                outstanding += 1;
            }
        }
    }
    Ok(ClientResult {
        hist,
        lost: outstanding,
    })
}

/// Runs `count` echo workers, each on its own socket, in this thread
/// until `stop`: one thread can stand for hundreds of connected workers,
/// at a cost per message that does not grow with their number.
#[allow(clippy::too_many_arguments)]
pub fn workers(
    ctx: &zmq::Context,
    endpoint: &str,
    dialect: WorkerDialect,
    service: &str,
    credit: u32,
    count: usize,
    stop: &AtomicBool,
    curve: Option<&CurveClient>,
) -> zmq::Result<u64> {
    let kind = if dialect == WorkerDialect::Rep {
        zmq::REP
    } else {
        zmq::DEALER
    };
    let msg = |b: &[u8]| zmq::Message::from(b);
    let (ready, heartbeat, interval): (Vec<Vec<u8>>, Vec<Vec<u8>>, Duration) = match dialect {
        WorkerDialect::Rep => (vec![], vec![], Duration::from_secs(3600)),
        WorkerDialect::Ppp if credit > 1 => (
            vec![vec![1], credit.to_string().into_bytes()],
            vec![vec![2]],
            Duration::from_secs(1),
        ),
        WorkerDialect::Ppp => (vec![vec![1]], vec![vec![2]], Duration::from_secs(1)),
        WorkerDialect::Mdp => (
            vec![
                vec![],
                b"MDPW01".to_vec(),
                vec![1],
                service.as_bytes().to_vec(),
            ],
            vec![vec![], b"MDPW01".to_vec(), vec![4]],
            Duration::from_millis(2500),
        ),
        WorkerDialect::Mdp2 => (
            vec![b"MDPW02".to_vec(), vec![1], service.as_bytes().to_vec()],
            vec![b"MDPW02".to_vec(), vec![5]],
            Duration::from_millis(2500),
        ),
    };
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let mut socket = ctx.socket(kind)?;
        socket.set_linger(0)?;
        corsair_libzmq::set_batch_size(&mut socket, IO_BATCH.load(Ordering::Relaxed))?;
        CurveClient::apply_opt(curve, &socket)?;
        socket.set_sndhwm(0)?;
        socket.set_rcvhwm(0)?;
        socket.connect(endpoint)?;
        if !ready.is_empty() {
            send_all(&socket, ready.iter().map(|f| msg(f)).collect())?;
        }
        sockets.push(socket);
    }
    // Readiness comes from each socket's ZMQ_FD through epoll, so a wait
    // costs what is ready, not what is connected (zmq_poll looks at
    // every socket each time, which with 250 sockets a thread cost more
    // than the broker did). ZMQ_FD only signals a change: a socket is
    // read until EAGAIN whenever it signals and after anything is sent
    // on it, and all are read when a wait finds nothing.
    let mut poll = mio::Poll::new().map_err(from_io)?;
    for (i, socket) in sockets.iter().enumerate() {
        let fd = socket.get_fd()?;
        poll.registry()
            .register(&mut SourceFd(&fd), Token(i), Interest::READABLE)
            .map_err(from_io)?;
    }
    let mut events = mio::Events::with_capacity(1024);
    let mut next_heartbeat = Instant::now() + interval;
    let mut served = 0u64;
    let mut sweep = true;
    // When each socket last sent a reply. A reply tells the broker as
    // much as a HEARTBEAT, so a round skips the sockets that replied
    // within the last half interval: none is silent for more than an
    // interval and a half (the worker library, which keeps a deadline
    // per socket, waits an interval after each reply).
    let mut replied: Vec<Option<Instant>> = vec![None; count];
    let mut serve = |i: usize, replied: &mut [Option<Instant>]| -> zmq::Result<()> {
        let n = echo_all(&sockets[i], dialect)?;
        if n > 0 {
            replied[i] = Some(Instant::now());
        }
        served += n;
        Ok(())
    };
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_heartbeat {
            for i in 0..count {
                let told =
                    replied[i].is_some_and(|at| now.saturating_duration_since(at) < interval / 2);
                if !told {
                    send_all(&sockets[i], heartbeat.iter().map(|f| msg(f)).collect())?;
                    serve(i, &mut replied)?;
                }
            }
            next_heartbeat += interval;
        }
        if sweep {
            for i in 0..count {
                serve(i, &mut replied)?;
            }
        }
        match poll.poll(&mut events, Some(Duration::from_millis(50))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(from_io(e)),
        }
        sweep = events.is_empty();
        for event in &events {
            serve(event.token().0, &mut replied)?;
        }
    }
    Ok(served)
}

fn from_io(e: std::io::Error) -> zmq::Error {
    zmq::Error::from_raw(e.raw_os_error().unwrap_or(zmq::Error::EINVAL.to_raw()))
}

/// Answers every request waiting on `socket`; returns how many.
fn echo_all(socket: &zmq::Socket, dialect: WorkerDialect) -> zmq::Result<u64> {
    let msg = |b: &[u8]| zmq::Message::from(b);
    let mut served = 0;
    loop {
        let mut frames = match recv_all(socket, zmq::DONTWAIT) {
            Ok(f) => f,
            Err(zmq::Error::EAGAIN) => return Ok(served),
            Err(e) => return Err(e),
        };
        match dialect {
            WorkerDialect::Rep | WorkerDialect::Ppp
                if frames.len() > 1 || dialect == WorkerDialect::Rep => {}
            WorkerDialect::Mdp if frames.len() > 3 && frames[2][..] == [2] => frames[2] = msg(&[3]),
            WorkerDialect::Mdp2 if frames.len() > 2 && frames[1][..] == [2] => {
                frames[1] = msg(&[4])
            }
            _ => continue, // heartbeats and the like
        }
        send_all(socket, frames)?;
        served += 1;
    }
}
