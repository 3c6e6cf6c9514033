//! Builds libzmq 4.3.5 statically with libsodium, so CURVE is available,
//! and with the draft API, so the I/O batch sizes can be set per socket.
//!
//! On Linux a few source files are rebuilt and swapped into the archive
//! (see `rebuild_on_linux`):
//! - the engine, with a two-line change so that a connection dropped for
//!   a message over `ZMQ_MAXMSGSIZE` is reported to socket monitors;
//!   stock libzmq drops such a connection without saying why, so the
//!   broker could not count it;
//! - the signaler and its file-descriptor pair, with `eventfd`: the
//!   `platform.hpp` that `zeromq-src` writes is empty, so libzmq fell
//!   back to a Unix socket pair to wake a thread, which costs a socket
//!   write and read (and the kernel's buffers) every time;
//! - the TCP options, with `SO_KEEPALIVE` and `TCP_KEEPCNT`/`IDLE`/
//!   `INTVL`, which without them were silently ignored
//!   (`ZMQ_TCP_KEEPALIVE*`).
//!
//! The `zmq-sys` build script is switched off by the `links` override in
//! `.cargo/config.toml`; the directives printed here (through
//! `zeromq-src`) put the static libzmq on every final link that depends on
//! this crate.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The engine file that tears connections down, and the start of the
/// function that does it, after which the report goes.
const ENGINE: &str = "stream_engine_base";
const ANCHOR: &str =
    "void zmq::stream_engine_base_t::error (error_reason_t reason_)\n{\n    zmq_assert (_session);\n";
/// What is inserted: the decoders set `EMSGSIZE` when a frame is over
/// `ZMQ_MAXMSGSIZE` and the engine then fails with a protocol error,
/// which stock libzmq reports only as `ZMQ_EVENT_DISCONNECTED`. This
/// reports it first as `ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL` whose value
/// is the errno, `EMSGSIZE`.
const REPORT: &str =
    "    // corsair: say why the connection is dropped (see corsair-libzmq's build.rs)\n    \
    if (reason_ == protocol_error && errno == EMSGSIZE)\n        \
    _socket->event_handshake_failed_no_detail (_endpoint_uri_pair, EMSGSIZE);\n";

/// The definitions `zeromq-src` compiles every file with on Linux.
const ZEROMQ_SRC_LINUX: &[(&str, &str)] = &[
    ("ZMQ_BUILD_TESTS", "OFF"),
    ("ZMQ_BUILD_DRAFT_API", "1"),
    ("ZMQ_USE_CV_IMPL_STL11", "1"),
    ("ZMQ_STATIC", "1"),
    ("ZMQ_USE_BUILTIN_SHA1", "1"),
    ("ZMQ_HAVE_WS", "1"),
    ("ZMQ_USE_LIBSODIUM", "1"),
    ("ZMQ_HAVE_CURVE", "1"),
    ("ZMQ_HAVE_LINUX", "1"),
    ("ZMQ_IOTHREAD_POLLER_USE_EPOLL", "1"),
    ("ZMQ_POLL_BASED_ON_POLL", "1"),
    ("ZMQ_HAVE_IPC", "1"),
    ("HAVE_STRNLEN", "1"),
    ("ZMQ_HAVE_UIO", "1"),
    ("ZMQ_HAVE_STRUCT_SOCKADDR_UN", "1"),
];

/// What Linux has that the empty `platform.hpp` does not say, added to
/// the files below. In libzmq 4.3.5 these names are read only by
/// `ip.cpp`, `signaler.cpp` and `tcp.cpp` (no header), so the other
/// objects need no rebuild.
const LINUX_EXTRA: &[(&str, &str)] = &[
    ("ZMQ_HAVE_EVENTFD", "1"),
    ("ZMQ_HAVE_EVENTFD_CLOEXEC", "1"),
    ("ZMQ_HAVE_SO_KEEPALIVE", "1"),
    ("ZMQ_HAVE_TCP_KEEPCNT", "1"),
    ("ZMQ_HAVE_TCP_KEEPIDLE", "1"),
    ("ZMQ_HAVE_TCP_KEEPINTVL", "1"),
];

/// The files rebuilt on Linux, each with the text inserted after an
/// anchor, if any.
const REBUILT: &[(&str, Option<(&str, &str)>)] = &[
    (ENGINE, Some((ANCHOR, REPORT))),
    ("ip", None),
    ("signaler", None),
    ("tcp", None),
];

fn main() {
    let lib = env::var("DEP_SODIUM_LIB").expect("libsodium-sys-stable exports DEP_SODIUM_LIB");
    let include =
        env::var("DEP_SODIUM_INCLUDE").expect("libsodium-sys-stable exports DEP_SODIUM_INCLUDE");
    // libzmq's own sources warn a lot under -Wextra; none of it is ours
    // to fix, and cargo would repeat every line on each build.
    env::set_var("CXXFLAGS", "-w");
    env::set_var("CFLAGS", "-w");
    zeromq_src::Build::new()
        .with_libsodium(Some(zeromq_src::LibLocation::new(&lib, &include)))
        .enable_draft(true)
        .build();
    let target = env::var("TARGET").unwrap_or_default();
    if target.contains("linux") {
        rebuild_on_linux(Path::new(&include));
    } else {
        println!(
            "cargo:warning=corsair-libzmq: oversized messages are not reported on {target}; \
             the broker cannot count them there (and libzmq wakes its threads through a \
             socket pair)"
        );
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Rebuilds the [`REBUILT`] files with the definitions `zeromq-src`
/// uses on Linux plus [`LINUX_EXTRA`] (and the engine with [`REPORT`]
/// inserted), and swaps their objects in `libzmq.a` for the new ones.
fn rebuild_on_linux(sodium_include: &Path) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // zeromq-src leaves a copy of libzmq's sources, headers and an empty
    // platform.hpp in OUT_DIR, and the library in OUT_DIR/lib.
    let source = out.join("source");
    let patched_dir = out.join("patched");
    fs::create_dir_all(&patched_dir).expect("cannot create OUT_DIR/patched");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++11")
        .include(&out)
        .include(source.join("include"))
        .include(source.join("src"))
        .include(sodium_include);
    for &(name, value) in ZEROMQ_SRC_LINUX.iter().chain(LINUX_EXTRA) {
        build.define(name, value);
    }
    for &(file, insert) in REBUILT {
        let original = source.join("src").join(format!("{file}.cpp"));
        let text = fs::read_to_string(&original)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", original.display()));
        let text = match insert {
            Some((anchor, addition)) => {
                assert!(
                    text.matches(anchor).count() == 1,
                    "{} has changed: the patch cannot be inserted",
                    original.display()
                );
                text.replace(anchor, &format!("{anchor}{addition}"))
            }
            None => text,
        };
        let copy = patched_dir.join(format!("{file}.cpp"));
        fs::write(&copy, text).expect("cannot write a rebuilt source");
        build.file(&copy);
    }
    let objects = build.compile_intermediates();
    assert_eq!(
        objects.len(),
        REBUILT.len(),
        "expected one object per rebuilt file, got {objects:?}"
    );

    let archive = out.join("lib").join("libzmq.a");
    let members = run(build.get_archiver().arg("t").arg(&archive));
    for &(file, _) in REBUILT {
        let old = members
            .lines()
            .find(|m| {
                m.strip_suffix(".o")
                    .is_some_and(|m| m.ends_with(&format!("-{file}")) || m == file)
            })
            .unwrap_or_else(|| panic!("no {file} object in {}", archive.display()))
            .to_owned();
        run(build.get_archiver().arg("d").arg(&archive).arg(&old));
    }
    let mut add = build.get_archiver();
    add.arg("rs").arg(&archive);
    for object in &objects {
        add.arg(object);
    }
    run(&mut add);
}

/// Runs a tool, panicking with its output if it fails; returns stdout.
fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
