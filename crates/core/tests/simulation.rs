//! Deterministic simulation of the broker core (issue 8).
//!
//! Each seed builds a random broker configuration and a random cast of
//! clients (plain, Majordomo 0.1 and 0.2, over DEALER with a tag
//! envelope) and workers (Paranoid Pirate with or without credit, Simple
//! Pirate, Majordomo 0.1 and 0.2) that are good, drop requests, answer
//! late, answer twice or send a PARTIAL first; then runs a few hundred
//! random steps on a virtual clock: requests, replies, heartbeats, time
//! passing, workers crashing, stalling and losing heartbeats, garbage.
//! After every step it checks:
//!
//! - a reply or failure reaches only the client that sent the request,
//!   carries that request's answer, and comes at most once;
//! - no request goes to a worker holding as many attempts as its credit;
//! - no request is sent to workers more often than the attempt limit;
//! - the queue never exceeds its bound;
//! - the broker's count of attempts held by workers equals its count of
//!   requests in flight;
//!
//! and at the end, after the system is left to settle, that every request
//! ended in exactly one reply or one failure reply.
//!
//! `CORSAIR_SIM_SEEDS=N` runs N seeds (default 300); `CORSAIR_SIM_SEED=S`
//! replays seed S alone and prints its whole scenario. A failing seed
//! prints the end of its scenario and how to replay it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_core::{Broker, BrokerConfig, HeartbeatConfig, Output, Side};

/// SplitMix64: small, fast, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ClientKind {
    Plain,
    Mdp1,
    Mdp2,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum WorkerKind {
    Ppp,
    Simple,
    Mdp1,
    Mdp2,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    Good,
    /// Never answers this share (percent) of its requests.
    Dropper(u64),
    /// Answers after a random delay of up to this many ms.
    Slow(u64),
    /// Answers every request twice.
    Doubler,
    /// Sends a PARTIAL before its FINAL (Majordomo 0.2 only).
    Streamer,
}

/// A request the worker got and has not answered yet.
struct Task {
    address: Bytes,
    body: Bytes,
    reply_at: u64,
}

struct SimWorker {
    identity: Bytes,
    kind: WorkerKind,
    credit: u32,
    behaviour: Behaviour,
    /// False once crashed (messages to it are undeliverable) or frozen.
    alive: bool,
    /// Frozen: gone silent without the broker noticing a disconnect.
    frozen: bool,
    /// Short stall: sends nothing until then.
    stalled_until: u64,
    tasks: Vec<Task>,
    /// The broker's side of the books, as far as the worker can tell:
    /// requests dispatched to it whose attempt neither got a reply nor
    /// timed out yet, as (request tag, dispatch time).
    held: Vec<(u64, u64)>,
    next_heartbeat: u64,
}

/// A request a client sent.
struct Sent {
    client: usize,
    service: &'static str,
    mmi: bool,
    /// Replies and failure replies received (must end at one).
    ends: u32,
    /// Times it was delivered to a worker.
    dispatches: u32,
}

struct SimClient {
    identity: Bytes,
    kind: ClientKind,
}

struct Sim {
    rng: Rng,
    t0: Instant,
    now: u64,
    broker: Broker,
    config: BrokerConfig,
    clients: Vec<SimClient>,
    workers: Vec<SimWorker>,
    /// Worker index by identity.
    by_identity: HashMap<Bytes, usize>,
    sent: HashMap<u64, Sent>,
    next_tag: u64,
    next_worker: u64,
    log: Vec<String>,
    verbose: bool,
    /// When `handle_timeout` last ran (attempt deadlines up to it are
    /// handled).
    last_timeout: u64,
}

const SERVICES: [&str; 2] = ["default", "echo"];

/// The request number in a body `r<n>` (0 for anything else: garbage
/// senders' requests).
fn tag_of(body: &[u8]) -> u64 {
    String::from_utf8_lossy(body)
        .strip_prefix('r')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn frame(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

impl Sim {
    fn new(seed: u64, verbose: bool) -> Sim {
        let mut rng = Rng(seed);
        let ms = Duration::from_millis;
        let config = BrokerConfig {
            max_attempts: Some(1 + rng.below(4) as u32),
            attempt_timeout: Some(ms(rng.pick(&[100, 300, 800, 2000]))),
            heartbeat: HeartbeatConfig {
                interval: ms(rng.pick(&[1000, 1500])),
                liveness: 3,
            },
            mdp_heartbeat: HeartbeatConfig {
                interval: ms(rng.pick(&[1000, 2500])),
                liveness: 3,
            },
            queue_limit: rng.pick(&[5, 50, 1000]) as usize,
            wait_limit: Some(ms(rng.pick(&[500, 2000, 10_000]))),
            default_service: Bytes::from_static(b"default"),
            client_limit: if rng.chance(20) { Some(3) } else { None },
            batch: rng.pick(&[1, 1, 3, 64]) as u32,
        };
        let t0 = Instant::now();
        let mut sim = Sim {
            broker: Broker::new(config.clone(), t0),
            config,
            rng,
            t0,
            now: 0,
            clients: Vec::new(),
            workers: Vec::new(),
            by_identity: HashMap::new(),
            sent: HashMap::new(),
            next_tag: 0,
            next_worker: 0,
            log: Vec::new(),
            verbose,
            last_timeout: 0,
        };
        let kinds = [ClientKind::Plain, ClientKind::Mdp1, ClientKind::Mdp2];
        for i in 0..1 + sim.rng.below(4) {
            let kind = sim.rng.pick(&kinds);
            sim.clients.push(SimClient {
                identity: Bytes::from(format!("c{i}")),
                kind,
            });
        }
        let c = sim.config.clone();
        sim.note(format!("seed {seed}: {c:?}"));
        for _ in 0..sim.rng.below(5) {
            sim.add_worker();
        }
        sim
    }

    fn at(&self) -> Instant {
        self.t0 + Duration::from_millis(self.now)
    }

    fn note(&mut self, line: String) {
        if self.verbose {
            eprintln!("[{:>6} ms] {line}", self.now);
        }
        self.log.push(format!("[{:>6} ms] {line}", self.now));
    }

    fn fail(&self, seed: u64, what: &str) -> ! {
        let tail: Vec<&String> = self.log.iter().rev().take(80).collect();
        let mut text = String::new();
        for line in tail.into_iter().rev() {
            let _ = writeln!(text, "  {line}");
        }
        panic!(
            "simulation seed {seed} broke the promise: {what}\n\
             last events:\n{text}\n\
             broker counters: {:?}\n\
             replay: CORSAIR_SIM_SEED={seed} cargo test -p corsair-core --test simulation -- --nocapture",
            self.broker.stats()
        );
    }

    fn add_worker(&mut self) {
        let kind = self.rng.pick(&[
            WorkerKind::Ppp,
            WorkerKind::Simple,
            WorkerKind::Mdp1,
            WorkerKind::Mdp2,
        ]);
        let behaviour = match self.rng.below(6) {
            0 | 1 => Behaviour::Good,
            2 => Behaviour::Dropper(self.rng.pick(&[10, 50, 100])),
            3 => Behaviour::Slow(self.rng.pick(&[200, 1000, 3000])),
            4 => Behaviour::Doubler,
            _ if kind == WorkerKind::Mdp2 => Behaviour::Streamer,
            _ => Behaviour::Good,
        };
        self.next_worker += 1;
        let identity = Bytes::from(format!("w{}", self.next_worker));
        let service = match kind {
            WorkerKind::Ppp | WorkerKind::Simple => "default",
            _ => self.rng.pick(&SERVICES),
        };
        let credit = if kind == WorkerKind::Ppp && self.rng.chance(30) {
            2 + self.rng.below(3) as u32
        } else {
            1
        };
        let ready: Vec<Bytes> = match kind {
            WorkerKind::Ppp if credit > 1 => vec![frame(&[1]), Bytes::from(credit.to_string())],
            WorkerKind::Ppp => vec![frame(&[1])],
            WorkerKind::Simple => vec![Bytes::new(), frame(&[1])],
            WorkerKind::Mdp1 => vec![
                Bytes::new(),
                frame(b"MDPW01"),
                frame(&[1]),
                frame(service.as_bytes()),
            ],
            WorkerKind::Mdp2 => vec![frame(b"MDPW02"), frame(&[1]), frame(service.as_bytes())],
        };
        let interval = self.interval(kind);
        self.note(format!(
            "worker {identity:?} {kind:?} for {service} credit {credit} {behaviour:?} joins"
        ));
        self.by_identity
            .insert(identity.clone(), self.workers.len());
        self.workers.push(SimWorker {
            identity: identity.clone(),
            kind,
            credit,
            behaviour,
            alive: true,
            frozen: false,
            stalled_until: 0,
            tasks: Vec::new(),
            held: Vec::new(),
            next_heartbeat: self.now + interval,
        });
        let now = self.at();
        self.broker.handle_backend(now, identity, ready);
    }

    fn interval(&self, kind: WorkerKind) -> u64 {
        match kind {
            WorkerKind::Ppp => self.config.heartbeat.interval.as_millis() as u64,
            WorkerKind::Mdp1 | WorkerKind::Mdp2 => {
                self.config.mdp_heartbeat.interval.as_millis() as u64
            }
            WorkerKind::Simple => u64::MAX / 2,
        }
    }

    fn send_request(&mut self) {
        let c = self.rng.below(self.clients.len() as u64) as usize;
        self.next_tag += 1;
        let tag = self.next_tag;
        let kind = self.clients[c].kind;
        let mmi = kind != ClientKind::Plain && self.rng.chance(5);
        let service = match kind {
            ClientKind::Plain => "default",
            _ if mmi => "mmi.service",
            _ => self.rng.pick(&SERVICES),
        };
        let body = Bytes::from(format!("r{tag}"));
        let mut frames = vec![frame(&tag.to_be_bytes()), Bytes::new()];
        match kind {
            ClientKind::Plain => {}
            ClientKind::Mdp1 => frames.extend([frame(b"MDPC01"), frame(service.as_bytes())]),
            ClientKind::Mdp2 => {
                frames.extend([frame(b"MDPC02"), frame(&[1]), frame(service.as_bytes())])
            }
        }
        frames.push(if mmi { frame(b"echo") } else { body });
        self.note(format!("client c{c} ({kind:?}) sends r{tag} to {service}"));
        self.sent.insert(
            tag,
            Sent {
                client: c,
                service,
                mmi,
                ends: 0,
                dispatches: 0,
            },
        );
        let (now, identity) = (self.at(), self.clients[c].identity.clone());
        self.broker.handle_frontend(now, identity, frames);
    }

    /// The frames a worker of `kind` sends to answer `address`.
    fn reply_frames(kind: WorkerKind, address: &Bytes, body: Bytes, partial: bool) -> Vec<Bytes> {
        let tail = [address.clone(), Bytes::new(), body];
        let head: Vec<Bytes> = match kind {
            WorkerKind::Ppp => vec![],
            WorkerKind::Simple => vec![Bytes::new()],
            WorkerKind::Mdp1 => vec![Bytes::new(), frame(b"MDPW01"), frame(&[3])],
            WorkerKind::Mdp2 => vec![frame(b"MDPW02"), frame(&[if partial { 3 } else { 4 }])],
        };
        head.into_iter().chain(tail).collect()
    }

    fn heartbeat_frames(kind: WorkerKind) -> Option<Vec<Bytes>> {
        match kind {
            WorkerKind::Ppp => Some(vec![frame(&[2])]),
            WorkerKind::Simple => None,
            WorkerKind::Mdp1 => Some(vec![Bytes::new(), frame(b"MDPW01"), frame(&[4])]),
            WorkerKind::Mdp2 => Some(vec![frame(b"MDPW02"), frame(&[5])]),
        }
    }

    /// Worker `i` answers the tasks due by now (or all of them when
    /// `all`), as its behaviour says.
    fn work(&mut self, i: usize, all: bool) {
        let w = &mut self.workers[i];
        if !w.alive || w.stalled_until > self.now {
            return;
        }
        let now_ms = self.now;
        let (due, rest): (Vec<Task>, Vec<Task>) = std::mem::take(&mut w.tasks)
            .into_iter()
            .partition(|t| all || t.reply_at <= now_ms);
        w.tasks = rest;
        let (identity, kind, behaviour) = (w.identity.clone(), w.kind, w.behaviour);
        for task in due {
            let tag = tag_of(&task.body);
            if let Behaviour::Dropper(p) = behaviour {
                if self.rng.chance(p) {
                    self.note(format!("worker {identity:?} drops r{tag}"));
                    continue;
                }
            }
            self.workers[i].held.retain(|(t, _)| *t != tag);
            let now = self.at();
            if behaviour == Behaviour::Streamer {
                let part = Self::reply_frames(kind, &task.address, frame(b"part"), true);
                self.broker.handle_backend(now, identity.clone(), part);
            }
            let times = if behaviour == Behaviour::Doubler {
                2
            } else {
                1
            };
            self.note(format!("worker {identity:?} answers r{tag} (x{times})"));
            for _ in 0..times {
                let reply = Self::reply_frames(kind, &task.address, task.body.clone(), false);
                self.broker.handle_backend(now, identity.clone(), reply);
                self.drain(None);
            }
        }
    }

    /// Sends what the broker produced to its destinations and checks it.
    fn drain(&mut self, seed: Option<u64>) {
        while let Some(Output { side, frames }) = self.broker.poll_output() {
            match side {
                Side::Frontend => self.deliver_to_client(frames, seed),
                Side::Backend => self.deliver_to_worker(frames, seed),
                Side::Fetch => {}
            }
        }
    }

    fn deliver_to_client(&mut self, frames: Vec<Bytes>, seed: Option<u64>) {
        let seed = seed.unwrap_or(0);
        let Some(c) = self.clients.iter().position(|c| c.identity == frames[0]) else {
            return; // a garbage sender's reply
        };
        let tag = frames
            .get(1)
            .and_then(|f| <[u8; 8]>::try_from(f.as_ref()).ok())
            .map(u64::from_be_bytes);
        let Some(tag) = tag.filter(|t| self.sent.contains_key(t)) else {
            self.fail(
                seed,
                &format!("client c{c} got a reply with no tag of its own: {frames:?}"),
            );
        };
        if frames.get(2).is_none_or(|f| !f.is_empty()) {
            self.fail(seed, &format!("reply without its delimiter: {frames:?}"));
        }
        let kind = self.clients[c].kind;
        // The body after the dialect's header (and, for Majordomo, the
        // service), and whether the message ends the request.
        let (body, terminal) = match kind {
            ClientKind::Plain => (&frames[3..], true),
            ClientKind::Mdp1 => (frames.get(5..).unwrap_or_default(), true),
            ClientKind::Mdp2 => (
                frames.get(6..).unwrap_or_default(),
                frames.get(4).is_some_and(|f| f[..] == [3]),
            ),
        };
        let sent = self.sent.get_mut(&tag).expect("checked");
        if sent.client != c {
            let owner = sent.client;
            self.fail(seed, &format!("r{tag} of client c{owner} answered to c{c}"));
        }
        if !terminal {
            self.note(format!("c{c} gets a part of r{tag}"));
            return;
        }
        sent.ends += 1;
        let ends = sent.ends;
        let mmi = sent.mmi;
        // The request is over: a worker still holding an attempt of it
        // has its credit back (it gets new work after a sign of life).
        for w in &mut self.workers {
            w.held.retain(|(t, _)| *t != tag);
        }
        let failure = match kind {
            ClientKind::Plain => body.len() == 1 && body[0].is_empty(),
            _ => body.len() == 2 && body[0].is_empty(),
        };
        let expected = format!("r{tag}");
        let answer_ok =
            mmi || failure || body.last().is_some_and(|f| f[..] == *expected.as_bytes());
        self.note(format!(
            "c{c} gets {} for r{tag}",
            if failure {
                "the failure reply"
            } else {
                "its reply"
            }
        ));
        if ends > 1 {
            self.fail(seed, &format!("r{tag} ended {ends} times"));
        }
        if !answer_ok {
            self.fail(seed, &format!("r{tag} answered with {body:?}"));
        }
    }

    fn deliver_to_worker(&mut self, frames: Vec<Bytes>, seed: Option<u64>) {
        let seed = seed.unwrap_or(0);
        let Some(&i) = self.by_identity.get(&frames[0]) else {
            return; // a garbage sender that looked like a worker
        };
        let kind = self.workers[i].kind;
        if !self.workers[i].alive {
            if !self.workers[i].frozen {
                // Crashed: libzmq's router_mandatory send fails at once.
                let now = self.at();
                self.broker
                    .handle_undeliverable(now, Side::Backend, &frames);
            }
            return;
        }
        // (address, body) of a request; None for heartbeats and the like.
        let request = match kind {
            WorkerKind::Ppp if frames.len() >= 4 => Some((&frames[1], &frames[3..])),
            WorkerKind::Simple if frames.len() >= 5 => Some((&frames[2], &frames[4..])),
            WorkerKind::Mdp1 if frames.len() >= 7 && frames[3][..] == [2] => {
                Some((&frames[4], &frames[6..]))
            }
            WorkerKind::Mdp2 if frames.len() >= 6 && frames[2][..] == [2] => {
                Some((&frames[3], &frames[5..]))
            }
            _ => None,
        };
        let disconnect = match kind {
            WorkerKind::Mdp1 => frames.len() == 4 && frames[3][..] == [5],
            WorkerKind::Mdp2 => frames.len() == 3 && frames[2][..] == [6],
            _ => false,
        };
        if disconnect {
            // The broker forgot it: it reconnects as a new worker.
            let id = self.workers[i].identity.clone();
            self.note(format!("worker {id:?} told DISCONNECT; reconnects anew"));
            self.workers[i].alive = false;
            self.workers[i].frozen = true;
            self.add_worker();
            return;
        }
        let Some((address, body)) = request else {
            return;
        };
        let (address, body) = (address.clone(), body.last().cloned().unwrap_or_default());
        let tag = tag_of(&body);
        let w = &mut self.workers[i];
        let id = w.identity.clone();
        // Attempts whose deadline has been handled are over.
        let timeout = self.config.attempt_timeout.expect("set").as_millis() as u64;
        let handled = self.last_timeout;
        w.held.retain(|(_, at)| at + timeout > handled);
        if w.held.len() as u32 >= w.credit {
            let (held, credit) = (w.held.clone(), w.credit);
            self.fail(
                seed,
                &format!("r{tag} sent to {id:?} while it holds {held:?} (credit {credit})"),
            );
        }
        w.held.push((tag, self.now));
        let delay = match w.behaviour {
            Behaviour::Slow(max) => self.rng.below(max),
            _ => 0,
        };
        let w = &mut self.workers[i];
        w.tasks.push(Task {
            address,
            body,
            reply_at: self.now + delay,
        });
        let max = self.config.max_attempts.expect("set");
        if let Some(sent) = self.sent.get_mut(&tag) {
            sent.dispatches += 1;
            let n = sent.dispatches;
            if n > max {
                self.fail(
                    seed,
                    &format!("r{tag} sent to workers {n} times, limit {max}"),
                );
            }
        }
        self.note(format!("r{tag} dispatched to {id:?}"));
    }
}

impl Sim {
    /// Moves the clock on by `dt` ms: heartbeats and due answers from
    /// live workers first, then the broker's deadlines.
    fn advance(&mut self, dt: u64, seed: u64) {
        self.now += dt;
        for i in 0..self.workers.len() {
            let w = &mut self.workers[i];
            if !w.alive || w.stalled_until > self.now {
                continue;
            }
            if w.next_heartbeat <= self.now {
                let kind = w.kind;
                let next = self.now + self.interval(kind);
                self.workers[i].next_heartbeat = next;
                if let Some(hb) = Self::heartbeat_frames(kind) {
                    let (now, id) = (self.at(), self.workers[i].identity.clone());
                    self.broker.handle_backend(now, id, hb);
                    self.drain(Some(seed));
                }
            }
            self.work(i, false);
            self.drain(Some(seed));
        }
        let now = self.at();
        self.broker.handle_timeout(now);
        self.last_timeout = self.now;
        self.drain(Some(seed));
    }

    fn garbage(&mut self) {
        let side = if self.rng.chance(50) {
            Side::Frontend
        } else {
            Side::Backend
        };
        let pieces: [&[u8]; 10] = [
            b"",
            b"MDPW01",
            b"MDPW02",
            b"MDPC01",
            b"MDPC02",
            &[1],
            &[2],
            &[3],
            &[0xff, 0x00],
            b"\x00\x00\x00\x00\x00\x00\x00\x09",
        ];
        let frames: Vec<Bytes> = (0..self.rng.below(6))
            .map(|_| frame(self.rng.pick(&pieces)))
            .collect();
        let identity = Bytes::from(format!("x{}", self.rng.below(3)));
        self.note(format!("garbage on {side:?} from {identity:?}: {frames:?}"));
        let now = self.at();
        self.broker.handle_message(now, side, identity, frames);
    }

    fn step(&mut self, seed: u64) {
        match self.rng.below(100) {
            0..=34 => {
                // Sometimes several in one turn (no drain between), which
                // a broker with a batch gives to one worker with credit.
                for _ in 0..self.rng.pick(&[1, 1, 1, 2, 5]) {
                    self.send_request();
                }
            }
            35..=59 => {
                let dt = self.rng.pick(&[1, 10, 50, 200, 700]);
                self.advance(dt, seed);
            }
            60..=69 => {
                if !self.workers.is_empty() {
                    let i = self.rng.below(self.workers.len() as u64) as usize;
                    self.work(i, true);
                }
            }
            70..=74 => self.add_worker(),
            75..=78 => self.crash_one(),
            79..=81 => self.stall_one(),
            82..=85 => self.garbage(),
            _ => {
                let dt = self.rng.pick(&[1, 5]);
                self.advance(dt, seed);
            }
        }
        self.drain(Some(seed));
        self.check(seed);
    }

    fn crash_one(&mut self) {
        let live: Vec<usize> = (0..self.workers.len())
            .filter(|&i| self.workers[i].alive)
            .collect();
        if live.is_empty() {
            return;
        }
        let i = self.rng.pick(&live);
        let frozen = self.rng.chance(40);
        let w = &mut self.workers[i];
        w.alive = false;
        w.frozen = frozen;
        let id = w.identity.clone();
        self.note(format!(
            "worker {id:?} {}",
            if frozen {
                "freezes (heartbeats lost, no disconnect seen)"
            } else {
                "crashes"
            }
        ));
        if self.rng.chance(70) {
            self.add_worker();
        }
    }

    fn stall_one(&mut self) {
        let live: Vec<usize> = (0..self.workers.len())
            .filter(|&i| self.workers[i].alive && self.workers[i].kind != WorkerKind::Simple)
            .collect();
        if live.is_empty() {
            return;
        }
        let i = self.rng.pick(&live);
        // Short enough that the broker cannot have declared it dead.
        let stall = self.rng.below(self.interval(self.workers[i].kind) / 2);
        let w = &mut self.workers[i];
        w.stalled_until = self.now + stall;
        let id = w.identity.clone();
        self.note(format!("worker {id:?} stalls {stall} ms"));
    }

    fn check(&mut self, seed: u64) {
        let limit = self.config.queue_limit;
        if self.broker.queued() > limit {
            let q = self.broker.queued();
            self.fail(seed, &format!("{q} requests queued, bound {limit}"));
        }
        let (held, in_flight) = (self.broker.attempts_held(), self.broker.in_flight());
        if held != in_flight {
            self.fail(
                seed,
                &format!("workers hold {held} attempts, {in_flight} requests in flight"),
            );
        }
    }

    /// No more requests or faults: live workers answer everything, time
    /// passes until nothing is outstanding.
    fn settle(&mut self, seed: u64) {
        self.note("settling".into());
        for w in &mut self.workers {
            w.stalled_until = 0;
        }
        for _ in 0..2000 {
            if self.broker.outstanding() == 0 {
                break;
            }
            for i in 0..self.workers.len() {
                self.work(i, true);
            }
            self.drain(Some(seed));
            self.advance(100, seed);
            self.check(seed);
        }
        let outstanding = self.broker.outstanding();
        if outstanding != 0 {
            self.fail(
                seed,
                &format!("{outstanding} requests still outstanding after settling"),
            );
        }
        let mut unended: Vec<u64> = self
            .sent
            .iter()
            .filter(|(_, s)| s.ends != 1)
            .map(|(t, _)| *t)
            .collect();
        unended.sort_unstable();
        if let Some(tag) = unended.first() {
            let s = &self.sent[tag];
            let (ends, service) = (s.ends, s.service);
            self.fail(
                seed,
                &format!(
                    "r{tag} (to {service}) ended {ends} times; {} such",
                    unended.len()
                ),
            );
        }
    }
}

/// Runs one seed; returns the number of requests it sent.
fn run(seed: u64, steps: u64, verbose: bool) -> usize {
    let mut sim = Sim::new(seed, verbose);
    for _ in 0..steps {
        sim.step(seed);
    }
    sim.settle(seed);
    sim.sent.len()
}

#[test]
fn random_scenarios_keep_the_promise() {
    if let Ok(seed) = std::env::var("CORSAIR_SIM_SEED") {
        let seed = seed.parse().expect("CORSAIR_SIM_SEED is a number");
        // The broker's own log between the scenario's events.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_test_writer()
            .without_time()
            .try_init();
        let sent = run(seed, 400, true);
        eprintln!("seed {seed}: {sent} requests, promise kept");
        return;
    }
    let seeds: u64 = std::env::var("CORSAIR_SIM_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut requests = 0;
    for seed in 1..=seeds {
        requests += run(seed, 400, false);
    }
    eprintln!("{seeds} scenarios, {requests} requests: promise kept");
    assert!(requests as u64 > seeds * 50, "scenarios send requests");
}
