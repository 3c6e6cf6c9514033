//! Builds libzmq 4.3.5 with libsodium (CURVE) and the draft API, links
//! it, and sets the one socket option the `zmq` crate has no setter for.
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

/// libzmq's draft option: bytes read from a connection at once.
pub const ZMQ_IN_BATCH_SIZE: i32 = 101;
/// libzmq's draft option: bytes written to a connection at once.
pub const ZMQ_OUT_BATCH_SIZE: i32 = 102;

/// Sets how many bytes `socket`'s connections read and write per system
/// call (libzmq's default is 8192 each way). Connections made after the
/// call use it; set it before bind or connect.
///
/// ```
/// use corsair_libzmq::set_batch_size;
/// let ctx = zmq::Context::new();
/// let mut socket = ctx.socket(zmq::ROUTER).unwrap();
/// set_batch_size(&mut socket, 65536).unwrap();
/// assert!(set_batch_size(&mut socket, 0).is_err());
/// ```
pub fn set_batch_size(socket: &mut zmq::Socket, bytes: i32) -> zmq::Result<()> {
    for option in [ZMQ_IN_BATCH_SIZE, ZMQ_OUT_BATCH_SIZE] {
        let value: std::os::raw::c_int = bytes;
        #[allow(unsafe_code)]
        // SAFETY: the socket pointer is live for the borrow, and the value
        // is a c_int whose size is passed, as zmq_setsockopt requires for
        // these options.
        let rc = unsafe {
            zmq_sys::zmq_setsockopt(
                socket.as_mut_ptr(),
                option,
                (&value as *const std::os::raw::c_int).cast(),
                std::mem::size_of::<std::os::raw::c_int>(),
            )
        };
        if rc == -1 {
            #[allow(unsafe_code)]
            // SAFETY: zmq_errno only reads the calling thread's errno.
            let errno = unsafe { zmq_sys::zmq_errno() };
            return Err(zmq::Error::from_raw(errno));
        }
    }
    Ok(())
}
