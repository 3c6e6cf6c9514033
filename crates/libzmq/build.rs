//! Builds libzmq 4.3.5 statically with libsodium, so CURVE is available,
//! and with the draft API, so the I/O batch sizes can be set per socket.
//!
//! On Linux one engine source file is rebuilt with a two-line change so
//! that a connection dropped for a message over `ZMQ_MAXMSGSIZE` is
//! reported to socket monitors (see `report_oversize`); stock libzmq
//! drops such a connection without saying why, so the broker could not
//! count it.
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
        report_oversize(Path::new(&include));
    } else {
        println!(
            "cargo:warning=corsair-libzmq: oversized messages are not reported on {target}; \
             the broker cannot count them there"
        );
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Rebuilds `stream_engine_base.cpp` with [`REPORT`] inserted, with the
/// same definitions `zeromq-src` uses on Linux, and swaps the object in
/// `libzmq.a` for it.
fn report_oversize(sodium_include: &Path) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // zeromq-src leaves a copy of libzmq's sources, headers and an empty
    // platform.hpp in OUT_DIR, and the library in OUT_DIR/lib.
    let source = out.join("source");
    let original = source.join("src").join(format!("{ENGINE}.cpp"));
    let text = fs::read_to_string(&original)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", original.display()));
    assert!(
        text.matches(ANCHOR).count() == 1,
        "{} has changed: the oversize report cannot be inserted",
        original.display()
    );
    let patched_dir = out.join("patched");
    fs::create_dir_all(&patched_dir).expect("cannot create OUT_DIR/patched");
    let patched = patched_dir.join(format!("{ENGINE}.cpp"));
    fs::write(&patched, text.replace(ANCHOR, &format!("{ANCHOR}{REPORT}")))
        .expect("cannot write the patched engine");

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++11")
        .include(&out)
        .include(source.join("include"))
        .include(source.join("src"))
        .include(sodium_include)
        .file(&patched);
    for (name, value) in [
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
    ] {
        build.define(name, value);
    }
    let objects = build.compile_intermediates();
    let [object] = objects.as_slice() else {
        panic!("expected one object for {ENGINE}, got {objects:?}");
    };

    let archive = out.join("lib").join("libzmq.a");
    let members = run(build.get_archiver().arg("t").arg(&archive));
    let old = members
        .lines()
        .find(|m| m.ends_with(&format!("{ENGINE}.o")))
        .unwrap_or_else(|| panic!("no {ENGINE} object in {}", archive.display()))
        .to_owned();
    run(build.get_archiver().arg("d").arg(&archive).arg(&old));
    run(build.get_archiver().arg("rs").arg(&archive).arg(object));
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
