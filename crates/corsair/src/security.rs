//! CURVE encryption and authentication: key files, allow-lists, the
//! settings a connecting socket needs, and the broker's ZAP handler.
//!
//! A key file holds one Z85 key (40 characters) on one line. A broker
//! with a secret key encrypts every socket; with allow-lists, its ZAP
//! handler admits only the listed public keys, on the clients' socket
//! and on the workers' sockets separately.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use thiserror::Error;
use tracing::{debug, warn};

/// What can go wrong with keys and allow-lists.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file's content is not one Z85 key.
    #[error("{path}: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// libzmq refused.
    #[error("CURVE: {0}")]
    Zmq(#[from] zmq::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Checks that `key` is a Z85 CURVE key; returns its 32 bytes.
fn decode(key: &str) -> Result<[u8; 32], String> {
    if key.len() != 40 {
        return Err(format!(
            "a Z85 key has 40 characters, this one has {}",
            key.len()
        ));
    }
    let bytes = zmq::z85_decode(key).map_err(|_| "not Z85".to_owned())?;
    bytes.try_into().map_err(|_| "not a 32-byte key".to_owned())
}

/// A CURVE key pair, both halves in Z85.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The public half: given to peers.
    pub public: String,
    /// The secret half: never leaves its owner.
    pub secret: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = zmq::CurveKeyPair::new()?;
        let z85 = |k: &[u8]| zmq::z85_encode(k).map_err(|_| KeyError::Zmq(zmq::Error::EINVAL));
        Ok(KeyPair {
            public: z85(&pair.public_key)?,
            secret: z85(&pair.secret_key)?,
        })
    }

    /// The pair of a Z85 secret key (the public half is derived).
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        Ok(KeyPair {
            public: corsair_libzmq::curve_public(secret)?,
            secret: secret.to_owned(),
        })
    }

    /// Reads a secret key file (as written by [`KeyPair::write`]).
    pub fn read_secret(path: &Path) -> Result<Self, KeyError> {
        let secret = read_key(path)?;
        Self::from_secret(&secret)
    }

    /// Writes `OUT.pub` and `OUT.secret` (mode 0600), one Z85 key on one
    /// line each; returns their paths. Existing files are replaced.
    pub fn write(&self, out: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
        let with = |ext: &str| {
            let mut name = out.as_os_str().to_owned();
            name.push(ext);
            PathBuf::from(name)
        };
        let (public, secret) = (with(".pub"), with(".secret"));
        fs::write(&public, format!("{}\n", self.public)).map_err(io(&public))?;
        // Created 0600 from the start, so the key is never readable by others.
        let _ = fs::remove_file(&secret);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&secret)
            .map_err(io(&secret))?;
        writeln!(file, "{}", self.secret).map_err(io(&secret))?;
        Ok((public, secret))
    }
}

/// Reads a key file: one Z85 key on one line.
pub fn read_key(path: &Path) -> Result<String, KeyError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    let key = text.trim();
    decode(key).map_err(|why| KeyError::Malformed {
        path: path.to_owned(),
        why,
    })?;
    Ok(key.to_owned())
}

/// Public keys a broker admits on one socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    keys: HashSet<[u8; 32]>,
}

impl AllowList {
    /// Reads a file of Z85 public keys, one a line (blank lines and lines
    /// starting with `#` are skipped), or a directory of `*.pub` files.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let mut list = AllowList::default();
        if path.is_dir() {
            let mut files: Vec<PathBuf> = fs::read_dir(path)
                .map_err(io(path))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pub"))
                .collect();
            files.sort();
            for file in files {
                list.read_lines(&file)?;
            }
        } else {
            list.read_lines(path)?;
        }
        Ok(list)
    }

    fn read_lines(&mut self, path: &Path) -> Result<(), KeyError> {
        let text = fs::read_to_string(path).map_err(io(path))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = decode(line).map_err(|why| KeyError::Malformed {
                path: path.to_owned(),
                why: format!("line {}: {why}", n + 1),
            })?;
            self.keys.insert(key);
        }
        Ok(())
    }

    /// A list of these Z85 keys.
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<Self, KeyError> {
        let mut list = AllowList::default();
        for key in keys {
            let bytes = decode(key).map_err(|why| KeyError::Malformed {
                path: PathBuf::from("<key>"),
                why,
            })?;
            list.keys.insert(bytes);
        }
        Ok(list)
    }

    /// True when `key` (32 bytes) is listed.
    pub fn admits(&self, key: &[u8]) -> bool {
        <[u8; 32]>::try_from(key).is_ok_and(|k| self.keys.contains(&k))
    }

    /// Keys listed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is listed (nobody is admitted).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// CURVE for a socket that connects to a broker: the broker's public key
/// and this peer's own key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurveClient {
    /// The broker's public key (Z85).
    pub server_public: String,
    /// This peer's keys.
    pub keys: KeyPair,
}

impl CurveClient {
    /// Reads the broker's public key file and, if given, this peer's
    /// secret key file; without one, a fresh key pair is made (enough
    /// for a broker without allow-lists).
    pub fn from_files(server_key: &Path, own_secret: Option<&Path>) -> Result<Self, KeyError> {
        Ok(CurveClient {
            server_public: read_key(server_key)?,
            keys: match own_secret {
                Some(path) => KeyPair::read_secret(path)?,
                None => KeyPair::generate()?,
            },
        })
    }

    /// Turns CURVE on for `socket`; call before it connects.
    pub fn apply(&self, socket: &zmq::Socket) -> zmq::Result<()> {
        let raw = |k: &str| zmq::z85_decode(k).map_err(|_| zmq::Error::EINVAL);
        socket.set_curve_serverkey(&raw(&self.server_public)?)?;
        socket.set_curve_publickey(&raw(&self.keys.public)?)?;
        socket.set_curve_secretkey(&raw(&self.keys.secret)?)?;
        Ok(())
    }

    /// Applies `curve` to `socket` if there is one.
    pub fn apply_opt(curve: Option<&Self>, socket: &zmq::Socket) -> zmq::Result<()> {
        match curve {
            Some(c) => c.apply(socket),
            None => Ok(()),
        }
    }
}

/// CURVE for the broker: its key pair, and who may connect where.
#[derive(Debug, Clone)]
pub struct CurveServer {
    /// The broker's keys.
    pub keys: KeyPair,
    /// Keys admitted on the clients' socket (`None`: any key).
    pub allow_clients: Option<AllowList>,
    /// Keys admitted on the workers' sockets (`None`: any key).
    pub allow_workers: Option<AllowList>,
}

/// Which broker socket a ZAP request comes from, by ZAP domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// The clients' socket.
    Clients,
    /// The workers' sockets (Pirate, Majordomo, fetch and answers).
    Workers,
    /// One socket for clients and Majordomo workers (`--bind`): a key of
    /// either list is admitted.
    Both,
}

impl Domain {
    /// The ZAP domain name set on the socket.
    pub fn name(self) -> &'static str {
        match self {
            Domain::Clients => "corsair-clients",
            Domain::Workers => "corsair-workers",
            Domain::Both => "corsair-clients-workers",
        }
    }

    fn from_name(name: &[u8]) -> Option<Self> {
        [Domain::Clients, Domain::Workers, Domain::Both]
            .into_iter()
            .find(|d| d.name().as_bytes() == name)
    }
}

impl CurveServer {
    /// Turns the CURVE server role on for a broker socket of `domain`;
    /// call before it binds.
    pub fn apply(&self, socket: &zmq::Socket, domain: Domain) -> zmq::Result<()> {
        let secret = zmq::z85_decode(&self.keys.secret).map_err(|_| zmq::Error::EINVAL)?;
        socket.set_curve_server(true)?;
        socket.set_curve_secretkey(&secret)?;
        socket.set_zap_domain(domain.name())?;
        Ok(())
    }

    fn admits(&self, domain: Option<Domain>, key: &[u8]) -> bool {
        let on = |list: &Option<AllowList>| list.as_ref().is_none_or(|l| l.admits(key));
        match domain {
            Some(Domain::Clients) => on(&self.allow_clients),
            Some(Domain::Workers) => on(&self.allow_workers),
            Some(Domain::Both) => match (&self.allow_clients, &self.allow_workers) {
                (None, _) | (_, None) => true,
                (Some(c), Some(w)) => c.admits(key) || w.admits(key),
            },
            None => false,
        }
    }
}

/// Counters of the ZAP handler.
#[derive(Debug, Default)]
pub struct AuthStats {
    /// Connections admitted.
    pub admitted: AtomicU64,
    /// Connections refused.
    pub refused: AtomicU64,
}

/// The broker's ZAP handler: a thread answering libzmq's authentication
/// requests (RFC 27) on `inproc://zeromq.zap.01` of the broker's context.
pub struct ZapHandler {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
    stats: Arc<AuthStats>,
}

/// The endpoint libzmq sends ZAP requests to.
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

impl ZapHandler {
    /// Binds the handler in `ctx` (before any CURVE socket there binds)
    /// and starts its thread.
    pub fn start(ctx: &zmq::Context, server: CurveServer) -> zmq::Result<Self> {
        let socket = ctx.socket(zmq::REP)?;
        socket.set_linger(0)?;
        socket.bind(ZAP_ENDPOINT)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(AuthStats::default());
        let thread = {
            let (stop, stats) = (stop.clone(), stats.clone());
            thread::Builder::new()
                .name("corsair-zap".into())
                .spawn(move || serve(&socket, &server, &stop, &stats))
                .map_err(|_| zmq::Error::EMFILE)?
        };
        Ok(ZapHandler {
            stop,
            thread: Some(thread),
            stats,
        })
    }

    /// Its counters.
    pub fn stats(&self) -> &AuthStats {
        &self.stats
    }
}

impl Drop for ZapHandler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(socket: &zmq::Socket, server: &CurveServer, stop: &AtomicBool, stats: &AuthStats) {
    while !stop.load(Ordering::Relaxed) {
        match socket.poll(zmq::POLLIN, 100) {
            Ok(0) | Err(zmq::Error::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                warn!(error = %e, "ZAP handler stopped");
                return;
            }
        }
        let Ok(request) = socket.recv_multipart(0) else {
            continue;
        };
        let reply = answer(server, &request, stats);
        if let Err(e) = socket.send_multipart(reply, 0) {
            warn!(error = %e, "ZAP reply not sent");
        }
    }
}

/// The ZAP reply to one request (RFC 27: version, request id, domain,
/// address, routing id, mechanism, credentials...).
fn answer(server: &CurveServer, request: &[Vec<u8>], stats: &AuthStats) -> Vec<Vec<u8>> {
    let field = |i: usize| request.get(i).map(Vec::as_slice).unwrap_or_default();
    let reply = |code: &str, text: &str| {
        vec![
            b"1.0".to_vec(),
            field(1).to_vec(),
            code.as_bytes().to_vec(),
            text.as_bytes().to_vec(),
            Vec::new(),
            Vec::new(),
        ]
    };
    if field(0) != b"1.0" || request.len() < 6 {
        stats.refused.fetch_add(1, Ordering::Relaxed);
        warn!(frames = request.len(), "malformed ZAP request refused");
        return reply("400", "malformed ZAP request");
    }
    let domain = Domain::from_name(field(2));
    let address = String::from_utf8_lossy(field(3));
    let key = field(6);
    if field(5) == b"CURVE" && server.admits(domain, key) {
        stats.admitted.fetch_add(1, Ordering::Relaxed);
        debug!(%address, domain = %String::from_utf8_lossy(field(2)), "peer admitted");
        reply("200", "OK")
    } else {
        stats.refused.fetch_add(1, Ordering::Relaxed);
        let key = zmq::z85_encode(key).unwrap_or_default();
        warn!(%address, domain = %String::from_utf8_lossy(field(2)), mechanism = %String::from_utf8_lossy(field(5)), %key, "peer refused: key not allowed on this socket");
        reply("400", "key not allowed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zap(domain: Domain, key: &[u8]) -> Vec<Vec<u8>> {
        vec![
            b"1.0".to_vec(),
            b"7".to_vec(),
            domain.name().as_bytes().to_vec(),
            b"127.0.0.1".to_vec(),
            vec![],
            b"CURVE".to_vec(),
            key.to_vec(),
        ]
    }

    #[test]
    fn allow_lists_are_per_socket() {
        let client = KeyPair::generate().unwrap();
        let worker = KeyPair::generate().unwrap();
        let raw = |k: &KeyPair| zmq::z85_decode(&k.public).unwrap();
        let server = CurveServer {
            keys: KeyPair::generate().unwrap(),
            allow_clients: Some(AllowList::from_keys([client.public.as_str()]).unwrap()),
            allow_workers: Some(AllowList::from_keys([worker.public.as_str()]).unwrap()),
        };
        let stats = AuthStats::default();
        let code = |d, k: &KeyPair| answer(&server, &zap(d, &raw(k)), &stats)[2].clone();
        assert_eq!(code(Domain::Clients, &client), b"200");
        assert_eq!(code(Domain::Workers, &client), b"400");
        assert_eq!(code(Domain::Workers, &worker), b"200");
        assert_eq!(code(Domain::Clients, &worker), b"400");
        assert_eq!(code(Domain::Both, &worker), b"200");
        assert_eq!(stats.refused.load(Ordering::Relaxed), 2);
        assert_eq!(answer(&server, &[b"1.0".to_vec()], &stats)[2], b"400");
    }

    #[test]
    fn key_files_round_trip_and_the_secret_is_private() {
        let dir = std::env::temp_dir().join(format!("corsair-keys-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pair = KeyPair::generate().unwrap();
        let (public, secret) = pair.write(&dir.join("k")).unwrap();
        assert_eq!(read_key(&public).unwrap(), pair.public);
        assert_eq!(KeyPair::read_secret(&secret).unwrap(), pair);
        let mode = fs::metadata(&secret).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let list = AllowList::read(&dir).unwrap();
        assert!(list.admits(&zmq::z85_decode(&pair.public).unwrap()));
        fs::write(dir.join("bad.pub"), "not a key\n").unwrap();
        let err = AllowList::read(&dir).unwrap_err().to_string();
        assert!(err.contains("bad.pub") && err.contains("line 1"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
