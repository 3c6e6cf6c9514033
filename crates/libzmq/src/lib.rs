//! Link-only crate: builds libzmq 4.3.5 with libsodium (CURVE) and links it.
//!
//! Every binary that uses the `zmq` crate must depend on this crate and
//! name it once (`use corsair_libzmq as _;`) so that the static libzmq is
//! linked. The `corsair` library does this for its users.
//!
//! ```
//! use corsair_libzmq as _;
//! assert!(zmq::has("curve").unwrap_or(false));
//! ```

/// The libzmq version this crate builds, as `(major, minor, patch)`.
pub const LIBZMQ_VERSION: (i32, i32, i32) = (4, 3, 5);
