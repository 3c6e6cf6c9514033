//! Sending a `Bytes` frame without copying it.
//!
//! The `zmq` crate copies a `&[u8]` into a new libzmq message. For large
//! frames that copy (and its allocation) is most of the cost of passing
//! the frame on, so [`send_shared`] hands libzmq the `Bytes`'s own
//! memory instead (`zmq_msg_init_data`) and drops the `Bytes` once
//! libzmq has written it, on whichever thread libzmq frees it.

use std::mem::MaybeUninit;
use std::os::raw::c_void;

use bytes::Bytes;

fn last_error() -> zmq::Error {
    #[allow(unsafe_code)]
    // SAFETY: zmq_errno only reads the calling thread's errno.
    let errno = unsafe { zmq_sys::zmq_errno() };
    zmq::Error::from_raw(errno)
}

/// Called by libzmq when it no longer needs a frame's memory: drops the
/// boxed `Bytes` that owns it.
#[allow(unsafe_code)]
unsafe extern "C" fn release(_data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Box<Bytes>` leaked in `send_shared` for this
    // message; libzmq calls this exactly once per message.
    drop(unsafe { Box::from_raw(hint.cast::<Bytes>()) });
}

/// Sends `frame` on `socket` with `flags` (`zmq::SNDMORE`,
/// `zmq::DONTWAIT`) without copying its bytes; retries a send
/// interrupted by a signal.
///
/// ```
/// use bytes::Bytes;
/// let ctx = zmq::Context::new();
/// let mut a = ctx.socket(zmq::PAIR).unwrap();
/// let b = ctx.socket(zmq::PAIR).unwrap();
/// a.bind("inproc://shared-doc").unwrap();
/// b.connect("inproc://shared-doc").unwrap();
/// let big = Bytes::from(vec![7u8; 100_000]);
/// corsair_libzmq::send_shared(&mut a, big.clone(), zmq::SNDMORE).unwrap();
/// corsair_libzmq::send_shared(&mut a, Bytes::new(), 0).unwrap();
/// let got = b.recv_multipart(0).unwrap();
/// assert_eq!(got, [big.to_vec(), vec![]]);
/// ```
pub fn send_shared(socket: &mut zmq::Socket, frame: Bytes, flags: i32) -> zmq::Result<()> {
    let (data, len) = (frame.as_ptr(), frame.len());
    let hint = Box::into_raw(Box::new(frame));
    let mut msg = MaybeUninit::<zmq_sys::zmq_msg_t>::uninit();
    #[allow(unsafe_code)]
    // SAFETY: `data`/`len` describe memory owned by the boxed `Bytes` at
    // `hint`, which stays alive (and unmoved: `Bytes` does not move its
    // data) until `release` drops it; libzmq only reads it.
    let rc = unsafe {
        zmq_sys::zmq_msg_init_data(
            msg.as_mut_ptr(),
            data.cast_mut().cast(),
            len,
            Some(release),
            hint.cast(),
        )
    };
    if rc == -1 {
        let e = last_error();
        #[allow(unsafe_code)]
        // SAFETY: libzmq did not take the message, so the box is still ours.
        drop(unsafe { Box::from_raw(hint) });
        return Err(e);
    }
    loop {
        #[allow(unsafe_code)]
        // SAFETY: `msg` was initialised above and the socket pointer is
        // live for the borrow.
        let rc = unsafe { zmq_sys::zmq_msg_send(msg.as_mut_ptr(), socket.as_mut_ptr(), flags) };
        if rc != -1 {
            return Ok(());
        }
        match last_error() {
            zmq::Error::EINTR => continue,
            e => {
                #[allow(unsafe_code)]
                // SAFETY: the send failed, so the message is still ours to
                // close; closing it calls `release`, which frees the box.
                unsafe {
                    zmq_sys::zmq_msg_close(msg.as_mut_ptr())
                };
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_send_gives_the_frame_back_to_drop_and_reports_the_error() {
        let ctx = zmq::Context::new();
        let mut router = ctx.socket(zmq::ROUTER).unwrap();
        router.set_router_mandatory(true).unwrap();
        let frame = Bytes::from(vec![1u8; 4096]);
        // No peer has that identity: EHOSTUNREACH on the first frame.
        let err = send_shared(&mut router, frame.clone(), zmq::SNDMORE);
        assert_eq!(err, Err(zmq::Error::EHOSTUNREACH));
        // The clone given to libzmq was dropped with the failed message.
        assert!(frame.is_unique());
    }

    #[test]
    fn libzmq_releases_every_frame_it_was_given() {
        let ctx = zmq::Context::new();
        let mut a = ctx.socket(zmq::PAIR).unwrap();
        let b = ctx.socket(zmq::PAIR).unwrap();
        a.bind("inproc://shared-release").unwrap();
        b.connect("inproc://shared-release").unwrap();
        let frame = Bytes::from(vec![9u8; 8192]);
        for _ in 0..100 {
            send_shared(&mut a, frame.clone(), 0).unwrap();
        }
        for _ in 0..100 {
            assert_eq!(b.recv_bytes(0).unwrap(), frame.to_vec());
        }
        drop((a, b));
        drop(ctx);
        assert!(frame.is_unique(), "every clone given to libzmq was dropped");
    }
}
