//! Builds libzmq 4.3.5 statically with libsodium, so CURVE is available,
//! and with the draft API, so the I/O batch sizes can be set per socket.
//!
//! The `zmq-sys` build script is switched off by the `links` override in
//! `.cargo/config.toml`; the directives printed here (through
//! `zeromq-src`) put the static libzmq on every final link that depends on
//! this crate.

use std::env;

fn main() {
    let lib = env::var("DEP_SODIUM_LIB").expect("libsodium-sys-stable exports DEP_SODIUM_LIB");
    let include =
        env::var("DEP_SODIUM_INCLUDE").expect("libsodium-sys-stable exports DEP_SODIUM_INCLUDE");
    // libzmq's own sources warn a lot under -Wextra; none of it is ours
    // to fix, and cargo would repeat every line on each build.
    std::env::set_var("CXXFLAGS", "-w");
    std::env::set_var("CFLAGS", "-w");
    zeromq_src::Build::new()
        .with_libsodium(Some(zeromq_src::LibLocation::new(lib, include)))
        .enable_draft(true)
        .build();
    println!("cargo:rerun-if-changed=build.rs");
}
