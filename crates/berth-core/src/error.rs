//! Failures the engine reports, each with a stable code the JS side turns into a BerthError.

use std::fmt;
use std::io;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialErrorCode {
    ConnectTimeout,
    ConnectRefused,
    DnsFailed,
    ConnectFailed,
    /// The pool was closed while the dial was in flight.
    PoolClosed,
    /// A native session found no connection within the acquire timeout.
    AcquireTimeout,
    /// The address policy refused every address of the destination (or its Unix socket):
    /// no connect was attempted.
    DestinationDenied,
    /// Every member of a group is down or ejected, or was tried by this acquire and failed.
    NoHealthyMember,
}

impl DialErrorCode {
    /// Every code, for the owner to check that it knows them all.
    pub const ALL: [DialErrorCode; 8] = [
        DialErrorCode::ConnectTimeout,
        DialErrorCode::ConnectRefused,
        DialErrorCode::DnsFailed,
        DialErrorCode::ConnectFailed,
        DialErrorCode::PoolClosed,
        DialErrorCode::AcquireTimeout,
        DialErrorCode::DestinationDenied,
        DialErrorCode::NoHealthyMember,
    ];

    /// A failure to connect to one destination, which another member of a group may not
    /// share: what a group fails over on.
    pub fn is_connect_failure(self) -> bool {
        matches!(
            self,
            DialErrorCode::ConnectTimeout
                | DialErrorCode::ConnectRefused
                | DialErrorCode::DnsFailed
                | DialErrorCode::ConnectFailed
                | DialErrorCode::DestinationDenied
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DialErrorCode::ConnectTimeout => "CONNECT_TIMEOUT",
            DialErrorCode::ConnectRefused => "CONNECT_REFUSED",
            DialErrorCode::DnsFailed => "DNS_FAILED",
            DialErrorCode::ConnectFailed => "CONNECT_FAILED",
            DialErrorCode::PoolClosed => "POOL_CLOSED",
            DialErrorCode::AcquireTimeout => "ACQUIRE_TIMEOUT",
            DialErrorCode::DestinationDenied => "DESTINATION_DENIED",
            DialErrorCode::NoHealthyMember => "NO_HEALTHY_MEMBER",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialError {
    pub code: DialErrorCode,
    /// Human-readable detail: the destination and the OS error; never credentials.
    pub message: String,
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for DialError {}

impl DialError {
    pub fn new(code: DialErrorCode, message: impl Into<String>) -> Self {
        DialError {
            code,
            message: message.into(),
        }
    }

    /// Classifies a connect(2) failure.
    pub fn from_connect(dest: &str, err: &io::Error) -> Self {
        let code = match err.kind() {
            // A unix socket path with nobody behind it is the same situation as a refused port.
            io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
                DialErrorCode::ConnectRefused
            }
            io::ErrorKind::TimedOut => DialErrorCode::ConnectTimeout,
            _ => DialErrorCode::ConnectFailed,
        };
        DialError::new(code, format!("connect to {dest} failed: {err}"))
    }
}
