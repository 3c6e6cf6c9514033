//! The decoding error of every dialect.

use thiserror::Error;

/// Why a list of frames is not a valid message of the dialect tried.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message had no frames at all.
    #[error("empty message: no frames")]
    Empty,
    /// No empty delimiter frame separates the envelope from the body.
    #[error("no empty delimiter frame between envelope and body")]
    MissingDelimiter,
    /// The delimiter is there but no body frame follows it.
    #[error("no body frame after the empty delimiter")]
    MissingBody,
    /// A command frame holds a byte this dialect does not define.
    #[error("unknown {dialect} command {byte:#04x}")]
    UnknownCommand {
        /// The dialect whose command set was consulted.
        dialect: &'static str,
        /// The byte found.
        byte: u8,
    },
    /// A command frame is not exactly one byte long.
    #[error("{dialect} command frame must be 1 byte, got {len} bytes")]
    BadCommandFrame {
        /// The dialect whose command was expected.
        dialect: &'static str,
        /// The length of the frame found.
        len: usize,
    },
    /// A reply carries no envelope, so it cannot be routed.
    #[error("{dialect} reply has an empty envelope")]
    MissingEnvelope {
        /// The dialect of the reply.
        dialect: &'static str,
    },
    /// The header frame names no protocol this decoder knows.
    #[error("bad protocol header: expected {expected}")]
    BadHeader {
        /// The headers that would have been accepted.
        expected: &'static str,
    },
    /// A frame the command needs is not there.
    #[error("{dialect} message has no {what} frame")]
    MissingFrame {
        /// The dialect of the message.
        dialect: &'static str,
        /// The frame that is missing.
        what: &'static str,
    },
    /// The command has frames after its last one.
    #[error("{dialect} {command} has extra frames")]
    ExtraFrames {
        /// The dialect of the message.
        dialect: &'static str,
        /// The command's name.
        command: &'static str,
    },
    /// A valid command that this side never receives.
    #[error("{dialect} {command} is not expected here")]
    Unexpected {
        /// The dialect of the message.
        dialect: &'static str,
        /// The command's name.
        command: &'static str,
    },
}
