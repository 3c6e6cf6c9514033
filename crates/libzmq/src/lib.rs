//! Builds libzmq 4.3.5 with libsodium (CURVE) and the draft API, links
//! it, and offers the few libzmq calls the `zmq` crate lacks: the I/O
//! batch sizes, the public half of a CURVE secret key, and sending a
//! `Bytes` frame without copying it ([`send_shared`]).
//!
//! Every binary that uses the `zmq` crate must depend on this crate and
//! name it once (`use corsair_libzmq as _;`) so that the static libzmq is
//! linked. The `corsair` library does this for its users.
//!
//! ```
//! use corsair_libzmq as _;
//! assert!(zmq::has("curve").unwrap_or(false));
//! ```

mod shared;
pub use shared::send_shared;

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

#[allow(unsafe_code)]
extern "C" {
    // In libzmq's API since 4.2; the zmq-sys crate declares it without
    // exporting it.
    fn zmq_curve_public(
        z85_public_key: *mut std::os::raw::c_char,
        z85_secret_key: *const std::os::raw::c_char,
    ) -> std::os::raw::c_int;
}

/// The Z85 public key that belongs to the Z85 `secret` key (libzmq's
/// `zmq_curve_public`).
///
/// ```
/// let pair = zmq::CurveKeyPair::new().unwrap();
/// let secret = zmq::z85_encode(&pair.secret_key).unwrap();
/// let public = zmq::z85_encode(&pair.public_key).unwrap();
/// assert_eq!(corsair_libzmq::curve_public(&secret).unwrap(), public);
/// assert!(corsair_libzmq::curve_public("too short").is_err());
/// ```
pub fn curve_public(secret: &str) -> zmq::Result<String> {
    if secret.len() != 40 || !secret.is_ascii() {
        return Err(zmq::Error::EINVAL);
    }
    let secret = std::ffi::CString::new(secret).map_err(|_| zmq::Error::EINVAL)?;
    let mut public = [0 as std::os::raw::c_char; 41];
    #[allow(unsafe_code)]
    // SAFETY: `public` has room for 40 characters and the terminating
    // NUL, as zmq_curve_public requires; `secret` is a NUL-terminated
    // 40-character string.
    let rc = unsafe { zmq_curve_public(public.as_mut_ptr(), secret.as_ptr()) };
    if rc == -1 {
        #[allow(unsafe_code)]
        // SAFETY: zmq_errno only reads the calling thread's errno.
        let errno = unsafe { zmq_sys::zmq_errno() };
        return Err(zmq::Error::from_raw(errno));
    }
    let bytes: Vec<u8> = public[..40].iter().map(|&c| c as u8).collect();
    String::from_utf8(bytes).map_err(|_| zmq::Error::EINVAL)
}
