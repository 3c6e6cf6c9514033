//! The broker's native engine: its ROUTER and PULL sockets spoken
//! directly over TCP and Unix sockets (ZMTP 3.x, NULL mechanism), on the
//! broker's own thread.
//!
//! With libzmq every message crosses from libzmq's I/O thread to the
//! broker thread and back through lock-free pipes, with a wake-up of the
//! other thread each time one of them runs dry; under load that handover
//! costs more than everything the broker does. Here one `epoll` loop
//! reads each ready connection once per turn, hands whole messages to the
//! broker and writes what the broker produced, many messages per system
//! call. Peers are unchanged: any ZMTP 3.0/3.1 peer (libzmq 4.x, pyzmq,
//! JeroMQ, zmq.rs) connects as it would to libzmq.
//!
//! What it leaves to libzmq (the broker falls back to it): CURVE,
//! `inproc://`, interface-name and wildcard-path endpoints, and ZMTP 1.0
//! and 2.0 peers (libzmq 3.x and older), which it refuses and counts.

pub(crate) mod conn;
pub(crate) mod endpoint;
mod out;

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_core::hashing::SlotIndex;
use corsair_proto::arena::Arena;
use corsair_proto::zmtp::WireError;
use corsair_proto::Frames;
use mio::{Events, Interest, Poll, Token};
use tracing::{debug, warn};

use conn::{Conn, Event, State};
use endpoint::{Addr, Listener};

/// Bytes read from one connection per turn.
const READ_CHUNK: usize = 256 * 1024;
/// A peer that has not finished its handshake by then is dropped
/// (libzmq's `ZMQ_HANDSHAKE_IVL` default).
const HANDSHAKE_TIME: Duration = Duration::from_secs(30);
/// Bytes that may wait for a slow peer before a message to it counts as
/// undeliverable (a message to a peer with nothing waiting always goes).
const OUT_LIMIT: usize = 64 * 1024 * 1024;
/// Listener tokens start here; connections use their slot number.
const LISTENER_BASE: usize = usize::MAX / 2;

/// A message received: which listener, from whom, and its frames.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) listener: usize,
    pub(crate) identity: Bytes,
    pub(crate) frames: Frames,
}

/// Why a message could not be queued for its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undeliverable {
    /// No connected peer has that identity.
    Unroutable,
    /// The peer is not reading: too much already waits for it.
    Full,
}

/// What the engine refused, for the broker's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WireCounts {
    /// Connections dropped for a frame over the size limit.
    pub(crate) oversized: u64,
    /// Connections dropped for anything else ZMTP does not allow (bad
    /// greeting, old version, other mechanism, wrong socket type, taken
    /// identity, handshake timeout).
    pub(crate) refused: u64,
}

struct Bound {
    listener: Listener,
    socket_type: &'static str,
    endpoint: String,
    /// Connected peers' slots by routing identity (ROUTER only).
    routes: SlotIndex,
}

/// The native engine's sockets.
pub(crate) struct Native {
    poll: Poll,
    events: Events,
    bound: Vec<Bound>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    incoming: VecDeque<Incoming>,
    /// Connections that may have more to read.
    readable: VecDeque<usize>,
    /// Connections with something queued to write.
    dirty: Vec<usize>,
    handshakes: VecDeque<(Instant, usize, u64)>,
    scratch: Vec<u8>,
    parsed: Vec<Event>,
    /// Where received frames are copied to, a chunk for many.
    arena: Arena,
    /// Where routing identities are copied to, side by side: each
    /// message received carries its connection's identity, and cloning
    /// it counts a reference in a chunk that dozens of connections share
    /// and that stays in the CPU's cache, instead of one of its own.
    names: Arena,
    limit: Option<u64>,
    next_serial: u64,
    next_id: u32,
    counts: WireCounts,
}

impl Native {
    /// Binds each `(socket type, address)`: `"ROUTER"` or `"PULL"`.
    pub(crate) fn bind(sockets: &[(&'static str, Addr)], limit: Option<u64>) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut bound = Vec::with_capacity(sockets.len());
        for (i, (socket_type, addr)) in sockets.iter().enumerate() {
            let mut listener = Listener::bind(addr)?;
            poll.registry().register(
                listener.source(),
                Token(LISTENER_BASE + i),
                Interest::READABLE,
            )?;
            bound.push(Bound {
                endpoint: listener.endpoint()?,
                listener,
                socket_type,
                routes: SlotIndex::default(),
            });
        }
        Ok(Native {
            poll,
            events: Events::with_capacity(1024),
            bound,
            conns: Vec::new(),
            free: Vec::new(),
            incoming: VecDeque::new(),
            readable: VecDeque::new(),
            dirty: Vec::new(),
            handshakes: VecDeque::new(),
            scratch: vec![0; READ_CHUNK],
            parsed: Vec::new(),
            arena: Arena::new(),
            names: Arena::new(),
            limit,
            next_serial: 0,
            // libzmq starts its generated identities at a random number.
            next_id: std::process::id().wrapping_mul(2_654_435_761),
            counts: WireCounts::default(),
        })
    }

    /// Listener `i`'s endpoint as bound.
    pub(crate) fn endpoint(&self, i: usize) -> &str {
        &self.bound[i].endpoint
    }

    /// What was refused so far.
    pub(crate) fn counts(&self) -> WireCounts {
        self.counts
    }

    /// The next message received, reading a ready connection if none is
    /// waiting; `None` once every ready connection has been read dry.
    pub(crate) fn recv(&mut self) -> Option<Incoming> {
        loop {
            if let Some(m) = self.incoming.pop_front() {
                return Some(m);
            }
            let i = self.readable.pop_front()?;
            self.read(i);
        }
    }

    /// Queues `frames` (routing identity first) for the peer of that
    /// identity on listener `listener`.
    pub(crate) fn send(&mut self, listener: usize, frames: &[Bytes]) -> Result<(), Undeliverable> {
        let (identity, rest) = frames.split_first().ok_or(Undeliverable::Unroutable)?;
        let conns = &self.conns;
        let i = self.bound[listener]
            .routes
            .find(identity.as_ref(), |s| identity_at(conns, s))
            .ok_or(Undeliverable::Unroutable)? as usize;
        let conn = self.conns[i].as_mut().ok_or(Undeliverable::Unroutable)?;
        let unsent = conn.unsent();
        if unsent > OUT_LIMIT {
            return Err(Undeliverable::Full);
        }
        conn.queue(rest);
        if unsent == 0 {
            self.dirty.push(i);
        }
        Ok(())
    }

    /// Writes what is queued, as far as each peer takes it now.
    pub(crate) fn flush(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for i in dirty.drain(..) {
            self.write(i);
        }
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }

    /// Waits up to `timeout` for connections, data or room to write;
    /// does not wait while anything is left to read.
    pub(crate) fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        self.flush();
        let now = Instant::now();
        self.expire_handshakes(now);
        let timeout = if self.incoming.is_empty() && self.readable.is_empty() {
            self.handshakes.front().map_or(timeout, |&(d, ..)| {
                timeout.min(d.saturating_duration_since(now))
            })
        } else {
            Duration::ZERO
        };
        self.poll_events(timeout, |n, e| {
            let token = e.token().0;
            if token >= LISTENER_BASE {
                n.accept(token - LISTENER_BASE);
                return;
            }
            let hung_up = e.is_read_closed() || e.is_error();
            if hung_up {
                if let Some(conn) = n.conns[token].as_mut() {
                    conn.hung_up = true;
                }
            }
            if e.is_writable() {
                n.write(token);
            }
            if e.is_readable() || hung_up {
                n.readable.push_back(token);
            }
        })
    }

    /// Waits up to `timeout` for readiness and hands each event to
    /// `on_event`; an interrupted wait counts as one with no events.
    fn poll_events(
        &mut self,
        timeout: Duration,
        mut on_event: impl FnMut(&mut Self, &mio::event::Event),
    ) -> io::Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        // Taken out for the loop, which needs `self`; no allocation.
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for e in events.iter() {
            on_event(self, e);
        }
        self.events = events;
        Ok(())
    }

    /// At shutdown: keeps writing what is queued for peers until all of
    /// it is out or `limit` has passed, as libzmq's linger does; returns
    /// the bytes still unsent (0: everything went out). Nothing more is
    /// read.
    pub(crate) fn linger(&mut self, limit: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + limit;
        self.flush();
        loop {
            let unsent: usize = self.conns.iter().flatten().map(Conn::unsent).sum();
            let now = Instant::now();
            if unsent == 0 || now >= deadline {
                return Ok(unsent);
            }
            self.poll_events(deadline - now, |n, e| {
                let token = e.token().0;
                if token < LISTENER_BASE && (e.is_writable() || e.is_error()) {
                    n.write(token);
                }
            })?;
        }
    }

    fn accept(&mut self, listener: usize) {
        loop {
            let (mut stream, peer) = match self.bound[listener].listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!(error = %e, endpoint = %self.bound[listener].endpoint, "accept failed");
                    return;
                }
            };
            let slot = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            if let Err(e) = self.poll.registry().register(
                stream.source(),
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                warn!(error = %e, %peer, "cannot watch a new connection");
                self.free.push(slot);
                continue;
            }
            self.next_serial += 1;
            let deadline = Instant::now() + HANDSHAKE_TIME;
            let socket_type = self.bound[listener].socket_type;
            debug!(%peer, "peer connected");
            self.conns[slot] = Some(Conn::new(
                stream,
                listener,
                peer,
                self.next_serial,
                socket_type,
            ));
            self.handshakes
                .push_back((deadline, slot, self.next_serial));
            // Greeting and READY go out at once.
            self.write(slot);
        }
    }

    fn read(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else {
            return;
        };
        let n = match conn.stream.read(&mut self.scratch) {
            Ok(0) => return self.close(i, None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.readable.push_back(i);
                return;
            }
            Err(e) => return self.close(i, Some(&e.to_string())),
        };
        if n == self.scratch.len() || conn.hung_up {
            // There may be more (or the end, which comes with no further
            // event); it is read on a later turn. A short read otherwise
            // emptied the socket, and new data will bring a new event.
            self.readable.push_back(i);
        }
        let bound = &self.bound[conn.listener];
        let had_output = conn.unsent() > 0;
        let result = conn.take_in(
            &self.scratch[..n],
            bound.socket_type,
            self.limit,
            &mut self.arena,
            &mut self.parsed,
        );
        if !had_output && conn.unsent() > 0 {
            self.dirty.push(i); // a PONG
        }
        let mut events = std::mem::take(&mut self.parsed);
        for event in events.drain(..) {
            let Some(conn) = self.conns[i].as_mut() else {
                break;
            };
            match event {
                Event::Ready(asked) => {
                    if let Err(why) = self.identify(i, asked) {
                        self.counts.refused += 1;
                        self.close(i, Some(why));
                    }
                }
                Event::Message(frames) => self.incoming.push_back(Incoming {
                    listener: conn.listener,
                    identity: conn.identity.clone(),
                    frames,
                }),
            }
        }
        self.parsed = events;
        if self.conns[i].is_none() {
            return; // already refused above
        }
        if let Err(e) = result {
            if matches!(e, WireError::TooLarge { .. }) {
                self.counts.oversized += 1;
                let why = format!("message over the size limit ({e}): message discarded");
                self.close(i, Some(&why));
            } else {
                self.counts.refused += 1;
                self.close(i, Some(&e.to_string()));
            }
        }
    }

    /// Gives connection `i` its routing identity: the one it asked for,
    /// or a new one (5 bytes, a zero then a number, as libzmq makes).
    fn identify(&mut self, i: usize, asked: Bytes) -> Result<(), &'static str> {
        let listener = self.conns[i]
            .as_ref()
            .expect("identified connection exists")
            .listener;
        let bound = &mut self.bound[listener];
        if bound.socket_type != "ROUTER" {
            return Ok(());
        }
        let conns = &self.conns;
        let taken = |id: &[u8]| bound.routes.find(id, |s| identity_at(conns, s)).is_some();
        let identity = if asked.is_empty() {
            loop {
                self.next_id = self.next_id.wrapping_add(1);
                let mut id = [0u8; 5];
                id[1..].copy_from_slice(&self.next_id.to_be_bytes());
                if !taken(&id) {
                    break self.names.copy(&id);
                }
            }
        } else if taken(&asked) {
            return Err("identity already taken by a connected peer");
        } else {
            self.names.copy(&asked)
        };
        self.conns[i]
            .as_mut()
            .expect("identified connection exists")
            .identity = identity.clone();
        let conns = &self.conns;
        bound
            .routes
            .insert(identity.as_ref(), i as u32, |s| identity_at(conns, s));
        Ok(())
    }

    fn write(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else {
            return;
        };
        if let Err(e) = conn.write_out() {
            self.close(i, Some(&e.to_string()));
        }
    }

    fn expire_handshakes(&mut self, now: Instant) {
        while let Some(&(deadline, slot, serial)) = self.handshakes.front() {
            if deadline > now {
                break;
            }
            self.handshakes.pop_front();
            let late = self.conns[slot]
                .as_ref()
                .is_some_and(|c| c.serial == serial && c.state != State::Active);
            if late {
                self.counts.refused += 1;
                self.close(slot, Some("no handshake in time"));
            }
        }
        // Keep the queue from holding finished handshakes for 30 s.
        while let Some(&(_, slot, serial)) = self.handshakes.front() {
            let done = self.conns[slot]
                .as_ref()
                .is_none_or(|c| c.serial != serial || c.state == State::Active);
            if !done {
                break;
            }
            self.handshakes.pop_front();
        }
    }

    /// Drops connection `i`; `why` is logged when it is not a peer
    /// leaving normally.
    fn close(&mut self, i: usize, why: Option<&str>) {
        let Some(mut conn) = self.conns[i].take() else {
            return;
        };
        let bound = &mut self.bound[conn.listener];
        if !conn.identity.is_empty() {
            // Only if the index has this slot under the identity (a refused
            // connection never got an entry).
            bound.routes.remove_slot(conn.identity.as_ref(), i as u32);
        }
        match why {
            Some(why) => {
                warn!(peer = %conn.peer, endpoint = %bound.endpoint, reason = why, "connection dropped")
            }
            None => debug!(peer = %conn.peer, "peer disconnected"),
        }
        let _ = self.poll.registry().deregister(conn.stream.source());
        self.free.push(i);
    }
}

/// The routing identity of the connection in `slot`, which a listener's
/// routes index only while the slot holds that connection.
fn identity_at(conns: &[Option<Conn>], slot: u32) -> &[u8] {
    &conns[slot as usize]
        .as_ref()
        .expect("routed slots hold a connection")
        .identity
}
