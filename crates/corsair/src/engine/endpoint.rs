//! The endpoints the native engine can bind itself, and their listeners.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// An endpoint the native engine binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    /// `tcp://HOST:PORT`; `*` for every IPv4 interface, `*`/`0` for a
    /// port the system picks.
    Tcp(SocketAddr),
    /// `ipc://PATH` (a filesystem path).
    Ipc(PathBuf),
}

/// Reads a ZeroMQ endpoint; `None` for one the native engine leaves to
/// libzmq (`inproc://`, interface names, `ipc://*`, abstract sockets,
/// other transports).
pub(crate) fn parse(endpoint: &str) -> Option<Addr> {
    if let Some(rest) = endpoint.strip_prefix("tcp://") {
        let (host, port) = rest.rsplit_once(':')?;
        let port: u16 = match port {
            "*" => 0,
            p => p.parse().ok()?,
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ip = match host {
            "*" => "0.0.0.0".parse().ok()?,
            "localhost" => (host, port).to_socket_addrs().ok()?.next()?.ip(),
            h => h.parse().ok()?,
        };
        return Some(Addr::Tcp(SocketAddr::new(ip, port)));
    }
    let path = endpoint.strip_prefix("ipc://")?;
    if path.is_empty() || path == "*" || path.starts_with('@') {
        return None;
    }
    Some(Addr::Ipc(PathBuf::from(path)))
}

/// A bound listener.
pub(crate) enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix socket; its file is removed when it closes, as libzmq does.
    Ipc(UnixListener, PathBuf),
}

/// An accepted connection.
pub(crate) enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix socket.
    Ipc(UnixStream),
}

impl Listener {
    /// Binds `addr`. A stale `ipc://` file is removed first, as libzmq
    /// does.
    pub(crate) fn bind(addr: &Addr) -> io::Result<Self> {
        match addr {
            Addr::Tcp(a) => TcpListener::bind(*a).map(Listener::Tcp),
            Addr::Ipc(path) => {
                let _ = std::fs::remove_file(path);
                UnixListener::bind(path).map(|l| Listener::Ipc(l, path.clone()))
            }
        }
    }

    /// The endpoint as bound, written as libzmq writes it.
    pub(crate) fn endpoint(&self) -> io::Result<String> {
        match self {
            Listener::Tcp(l) => Ok(format!("tcp://{}", l.local_addr()?)),
            Listener::Ipc(_, path) => Ok(format!("ipc://{}", path.display())),
        }
    }

    /// The next waiting connection and its peer's address, with
    /// Nagle's algorithm off (as libzmq sets it).
    pub(crate) fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                s.set_nodelay(true)?;
                Ok((Stream::Tcp(s), peer.to_string()))
            }
            Listener::Ipc(l, path) => {
                let (s, _) = l.accept()?;
                Ok((Stream::Ipc(s), format!("ipc://{}", path.display())))
            }
        }
    }

    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listener::Tcp(l) => l,
            Listener::Ipc(l, _) => l,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Ipc(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Stream {
    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Ipc(s) => s,
        }
    }
}

impl io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Ipc(s) => s.read(buf),
        }
    }
}

impl io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Ipc(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Ipc(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_libzmq_would_bind() {
        assert_eq!(
            parse("tcp://127.0.0.1:0"),
            Some(Addr::Tcp("127.0.0.1:0".parse().unwrap()))
        );
        assert_eq!(
            parse("tcp://*:5555"),
            Some(Addr::Tcp("0.0.0.0:5555".parse().unwrap()))
        );
        assert_eq!(
            parse("tcp://127.0.0.1:*"),
            Some(Addr::Tcp("127.0.0.1:0".parse().unwrap()))
        );
        assert_eq!(
            parse("tcp://[::1]:7"),
            Some(Addr::Tcp("[::1]:7".parse().unwrap()))
        );
        assert_eq!(
            parse("ipc:///tmp/x.sock"),
            Some(Addr::Ipc("/tmp/x.sock".into()))
        );
    }

    #[test]
    fn endpoints_left_to_libzmq() {
        for e in [
            "inproc://broker",
            "tcp://eth0:5555",
            "tcp://127.0.0.1",
            "ipc://*",
            "ipc://@abstract",
            "udp://127.0.0.1:1",
        ] {
            assert_eq!(parse(e), None, "{e}");
        }
    }
}
