//! PUB/SUB: a weather station publishes `ZIP TEMPERATURE HUMIDITY SEQ`
//! updates; subscribers filter by zipcode.
//!
//! PUB/SUB delivers only to subscribers that are connected and
//! subscribed, and only while they keep up:
//! - **slow joiner**: a subscription takes a moment to reach the
//!   publisher (TCP connect, handshake, the subscribe message), and
//!   everything published before that is gone for that subscriber;
//! - **high-water mark**: a subscriber that reads slower than the
//!   publisher sends fills its queue (`sndhwm` on the publisher,
//!   `rcvhwm` on the subscriber); beyond it the publisher drops messages
//!   for that subscriber rather than block.
//!
//! The sequence number in every update lets a subscriber count what it
//! missed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{bind, recv_until, text, PatternError};
use crate::Shutdown;

/// The zipcodes the station reports on: 10000 to 10009.
pub const ZIPCODES: std::ops::Range<u32> = 10000..10010;

/// One weather update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// Where.
    pub zipcode: u32,
    /// Degrees.
    pub temperature: i32,
    /// Percent.
    pub humidity: u32,
    /// Position in the publisher's stream, from 1.
    pub seq: u64,
}

impl Update {
    /// The update as published: `ZIP TEMPERATURE HUMIDITY SEQ`.
    pub fn encode(&self) -> String {
        format!(
            "{:05} {} {} {}",
            self.zipcode, self.temperature, self.humidity, self.seq
        )
    }

    /// Reads an update back.
    pub fn parse(text: &str) -> Option<Update> {
        let mut it = text.split(' ');
        let update = Update {
            zipcode: it.next()?.parse().ok()?,
            temperature: it.next()?.parse().ok()?,
            humidity: it.next()?.parse().ok()?,
            seq: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(update)
    }
}

/// The subscription filter for one zipcode (prefix match on the text).
pub fn filter(zipcode: u32) -> String {
    format!("{zipcode:05} ")
}

/// A small deterministic generator, so the library needs no RNG crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// The publishing side.
pub struct WeatherServer {
    socket: zmq::Socket,
    endpoint: String,
    rng: XorShift,
    seq: u64,
}

impl WeatherServer {
    /// Binds a PUB socket with the given send high-water mark (messages
    /// queued per subscriber before the publisher drops for it).
    pub fn bind(ctx: &zmq::Context, endpoint: &str, sndhwm: i32) -> Result<Self, PatternError> {
        let socket = ctx.socket(zmq::PUB)?;
        socket.set_linger(0)?;
        socket.set_sndhwm(sndhwm)?;
        let endpoint = bind(&socket, endpoint)?;
        Ok(WeatherServer {
            socket,
            endpoint,
            rng: XorShift(0x9E37_79B9_7F4A_7C15),
            seq: 0,
        })
    }

    /// The endpoint as bound.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Updates published so far.
    pub fn published(&self) -> u64 {
        self.seq
    }

    /// Publishes one random update.
    pub fn publish(&mut self) -> Result<Update, PatternError> {
        self.seq += 1;
        let update = Update {
            zipcode: ZIPCODES.start
                + self.rng.next(u64::from(ZIPCODES.end - ZIPCODES.start)) as u32,
            temperature: self.rng.next(215) as i32 - 80,
            humidity: self.rng.next(50) as u32 + 10,
            seq: self.seq,
        };
        self.socket.send(update.encode().as_bytes(), 0)?;
        Ok(update)
    }

    /// Publishes until `stop` or `limit` updates in all, sleeping `pace`
    /// between updates when given. Returns the updates published.
    pub fn run(
        &mut self,
        stop: &Shutdown,
        limit: Option<u64>,
        pace: Option<Duration>,
    ) -> Result<u64, PatternError> {
        while !stop.is_triggered() && limit.is_none_or(|l| self.seq < l) {
            self.publish()?;
            if let Some(p) = pace {
                std::thread::sleep(p);
            }
        }
        Ok(self.seq)
    }
}

/// What a subscriber saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeatherReport {
    /// Updates received.
    pub updates: u64,
    /// Their mean temperature.
    pub average_temperature: f64,
    /// Every zipcode seen.
    pub zipcodes: BTreeSet<u32>,
    /// Sequence numbers of the first and last update received.
    pub first_seq: Option<u64>,
    /// See `first_seq`.
    pub last_seq: Option<u64>,
}

/// A SUB socket connected to `endpoint` with `filter`; `rcvhwm` bounds
/// its own queue.
pub fn subscriber(
    ctx: &zmq::Context,
    endpoint: &str,
    filter: &str,
    rcvhwm: i32,
) -> Result<zmq::Socket, PatternError> {
    let socket = ctx.socket(zmq::SUB)?;
    socket.set_linger(0)?;
    socket.set_rcvhwm(rcvhwm)?;
    socket.set_subscribe(filter.as_bytes())?;
    socket.connect(endpoint)?;
    Ok(socket)
}

/// Receives `count` updates (each within `timeout`) from a subscriber
/// and averages their temperature. `per_update` is time spent on each
/// (a slow reader).
pub fn collect(
    socket: &zmq::Socket,
    count: u64,
    timeout: Duration,
    per_update: Option<Duration>,
    stop: &Shutdown,
) -> Result<WeatherReport, PatternError> {
    let mut report = WeatherReport::default();
    let mut sum = 0i64;
    while report.updates < count {
        let msg = match recv_until(socket, Instant::now() + timeout, stop) {
            Ok(msg) => msg,
            Err(PatternError::Timeout(_)) if report.updates > 0 => break,
            Err(PatternError::Timeout(_)) => return Err(PatternError::Timeout(timeout)),
            Err(e) => return Err(e),
        };
        let line = text(&msg);
        let update = Update::parse(&line).ok_or(PatternError::Unexpected(line))?;
        report.updates += 1;
        sum += i64::from(update.temperature);
        report.zipcodes.insert(update.zipcode);
        report.first_seq.get_or_insert(update.seq);
        report.last_seq = Some(update.seq);
        if let Some(d) = per_update {
            std::thread::sleep(d);
        }
    }
    if report.updates > 0 {
        report.average_temperature = sum as f64 / report.updates as f64;
    }
    Ok(report)
}

/// The weather client of the zguide: subscribes to one zipcode and
/// averages `count` updates.
pub fn weather_client(
    ctx: &zmq::Context,
    endpoint: &str,
    zipcode: u32,
    count: u64,
    timeout: Duration,
    stop: &Shutdown,
) -> Result<WeatherReport, PatternError> {
    let socket = subscriber(ctx, endpoint, &filter(zipcode), 1000)?;
    collect(&socket, count, timeout, None, stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_round_trip_and_filters_match_one_zipcode() {
        let u = Update {
            zipcode: 10001,
            temperature: -12,
            humidity: 40,
            seq: 7,
        };
        assert_eq!(Update::parse(&u.encode()), Some(u));
        assert!(u.encode().starts_with(&filter(10001)));
        assert!(!u.encode().starts_with(&filter(1000)));
        assert_eq!(Update::parse("10001 x 1 1"), None);
    }
}
