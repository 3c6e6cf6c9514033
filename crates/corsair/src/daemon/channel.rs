//! Channels: a daemon's sockets, declared by name in code and
//! overridable from the INI file (section `[Daemon.channel]`).

use std::str::FromStr;

use super::ini::{ConfigError, Ini};

/// A libzmq socket type, by its usual name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketKind(pub zmq::SocketType);

impl SocketKind {
    /// Every libzmq socket type and its name.
    pub const ALL: [(&'static str, zmq::SocketType); 12] = [
        ("PAIR", zmq::PAIR),
        ("PUB", zmq::PUB),
        ("SUB", zmq::SUB),
        ("REQ", zmq::REQ),
        ("REP", zmq::REP),
        ("DEALER", zmq::DEALER),
        ("ROUTER", zmq::ROUTER),
        ("PULL", zmq::PULL),
        ("PUSH", zmq::PUSH),
        ("XPUB", zmq::XPUB),
        ("XSUB", zmq::XSUB),
        ("STREAM", zmq::STREAM),
    ];

    /// True for sockets that only send (no handler needed).
    pub fn send_only(self) -> bool {
        matches!(self.0, zmq::PUB | zmq::PUSH)
    }

    /// The type's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self.0)
            .map_or("?", |(n, _)| n)
    }
}

impl FromStr for SocketKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        Self::ALL
            .iter()
            .find(|(n, _)| *n == upper)
            .map(|(_, t)| SocketKind(*t))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!("unknown socket type `{s}` (one of {})", names.join(", "))
            })
    }
}

/// Keys a channel section may hold.
pub const CHANNEL_KEYS: [&str; 7] = [
    "type",
    "endpoint",
    "bind",
    "subscribe",
    "hwm",
    "handler",
    "subscribers",
];

/// One declared socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The channel's name; also the default handler's name.
    pub name: String,
    /// Socket type.
    pub kind: SocketKind,
    /// Where to bind or connect (may come from the INI file).
    pub endpoint: Option<String>,
    /// Bind (true) or connect (false).
    pub bind: bool,
    /// SUB: topic prefixes to subscribe to.
    pub subscriptions: Vec<String>,
    /// Send and receive high-water mark, if set.
    pub hwm: Option<i32>,
    /// The handler to call instead of the one named after the channel.
    pub handler: Option<String>,
    /// PUB: subscribers to wait for before the daemon begins, so that
    /// none of them misses a message (the slow joiner).
    pub subscribers: usize,
}

impl Channel {
    /// A channel named `name` of socket type `kind`, connecting, with no
    /// endpoint yet.
    pub fn new(name: &str, kind: zmq::SocketType) -> Self {
        Channel {
            name: name.to_owned(),
            kind: SocketKind(kind),
            endpoint: None,
            bind: false,
            subscriptions: Vec::new(),
            hwm: None,
            handler: None,
            subscribers: 0,
        }
    }

    /// Binds `endpoint`.
    pub fn bind(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.to_owned());
        self.bind = true;
        self
    }

    /// Connects to `endpoint`.
    pub fn connect(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.to_owned());
        self.bind = false;
        self
    }

    /// Subscribes to `prefix` (SUB; `""` for everything).
    pub fn subscribe(mut self, prefix: &str) -> Self {
        self.subscriptions.push(prefix.to_owned());
        self
    }

    /// Sets the high-water mark both ways.
    pub fn hwm(mut self, hwm: i32) -> Self {
        self.hwm = Some(hwm);
        self
    }

    /// Calls handler `name` for this channel's messages.
    pub fn handler(mut self, name: &str) -> Self {
        self.handler = Some(name.to_owned());
        self
    }

    /// Waits for `n` subscribers before the daemon begins (PUB).
    pub fn wait_for_subscribers(mut self, n: usize) -> Self {
        self.subscribers = n;
        self
    }

    /// The handler this channel's messages go to.
    pub fn handler_name(&self) -> &str {
        self.handler.as_deref().unwrap_or(&self.name)
    }

    /// The INI section that overrides this channel of `daemon`.
    pub fn section(daemon: &str, channel: &str) -> String {
        format!("{daemon}.{channel}")
    }

    /// Applies the overrides of section `[daemon.name]`.
    pub fn apply(&mut self, daemon: &str, ini: &Ini) -> Result<(), ConfigError> {
        let section = Self::section(daemon, &self.name);
        for key in ini.keys(&section) {
            if !CHANNEL_KEYS.contains(&key) {
                return Err(ConfigError::at(
                    &section,
                    key,
                    format!("unknown key (channel keys: {})", CHANNEL_KEYS.join(", ")),
                ));
            }
        }
        if let Some(t) = ini.get(&section, "type") {
            self.kind = t
                .parse()
                .map_err(|e| ConfigError::at(&section, "type", e))?;
        }
        if let Some(ep) = ini.get(&section, "endpoint") {
            self.endpoint = Some(ep.to_owned());
        }
        self.bind = ini.bool_or(&section, "bind", self.bind)?;
        if let Some(subs) = ini.get(&section, "subscribe") {
            self.subscriptions = subs.split(',').map(|s| s.trim().to_owned()).collect();
        }
        if ini.get(&section, "hwm").is_some() {
            self.hwm = Some(ini.parse_or(&section, "hwm", 0)?);
        }
        if let Some(h) = ini.get(&section, "handler") {
            self.handler = Some(h.to_owned());
        }
        self.subscribers = ini.parse_or(&section, "subscribers", self.subscribers)?;
        if self.endpoint.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::at(
                &section,
                "endpoint",
                "missing: give one in code or in the INI file",
            ));
        }
        Ok(())
    }

    /// Opens the socket: options, subscriptions, bind or connect. A PUB
    /// that waits for subscribers is opened as an XPUB (the same on the
    /// wire) so that it sees them arrive.
    pub fn open(&self, ctx: &zmq::Context, daemon: &str) -> Result<zmq::Socket, ConfigError> {
        let section = Self::section(daemon, &self.name);
        let err = |key: &str, e: zmq::Error| ConfigError::at(&section, key, e.to_string());
        let waits = self.kind.0 == zmq::PUB && self.subscribers > 0;
        let kind = if waits { zmq::XPUB } else { self.kind.0 };
        let socket = ctx.socket(kind).map_err(|e| err("type", e))?;
        socket.set_linger(1000).map_err(|e| err("linger", e))?;
        if waits {
            socket
                .set_xpub_verbose(true)
                .map_err(|e| err("subscribers", e))?;
        }
        if let Some(hwm) = self.hwm {
            socket.set_sndhwm(hwm).map_err(|e| err("hwm", e))?;
            socket.set_rcvhwm(hwm).map_err(|e| err("hwm", e))?;
        }
        if self.kind.0 == zmq::SUB {
            for s in &self.subscriptions {
                socket
                    .set_subscribe(s.as_bytes())
                    .map_err(|e| err("subscribe", e))?;
            }
        }
        let endpoint = self.endpoint.as_deref().unwrap_or_default();
        let result = if self.bind {
            socket.bind(endpoint)
        } else {
            socket.connect(endpoint)
        };
        result.map_err(|e| {
            ConfigError::at(
                &section,
                "endpoint",
                format!(
                    "cannot {} {endpoint}: {e}",
                    if self.bind { "bind" } else { "connect" }
                ),
            )
        })?;
        Ok(socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_types_by_name_and_overrides_from_ini() {
        assert_eq!("pull".parse::<SocketKind>(), Ok(SocketKind(zmq::PULL)));
        assert!("FOO"
            .parse::<SocketKind>()
            .unwrap_err()
            .contains("unknown socket type `FOO`"));
        let ini = Ini::parse(
            "[W.job]\nendpoint = ipc:///tmp/x\nhandler = work\nhwm = 10\n",
            "t",
        )
        .unwrap();
        let mut c = Channel::new("job", zmq::PULL);
        c.apply("W", &ini).unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("ipc:///tmp/x"));
        assert_eq!((c.handler_name(), c.hwm), ("work", Some(10)));
    }

    #[test]
    fn bad_channel_config_names_section_and_key() {
        let ini = Ini::parse("[W.job]\ntype = FOO\n", "t").unwrap();
        let e = Channel::new("job", zmq::PULL)
            .connect("x")
            .apply("W", &ini)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("[W.job] type: unknown socket type `FOO`"),
            "{e}"
        );
        let e = Channel::new("job", zmq::PULL)
            .apply("W", &Ini::default())
            .unwrap_err();
        assert!(
            e.to_string().starts_with("[W.job] endpoint: missing"),
            "{e}"
        );
        let ini = Ini::parse("[W.job]\ncolour = red\n", "t").unwrap();
        let e = Channel::new("job", zmq::PULL)
            .connect("x")
            .apply("W", &ini)
            .unwrap_err();
        assert!(
            e.to_string().starts_with("[W.job] colour: unknown key"),
            "{e}"
        );
    }
}
