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
        DialError::new(
            connect_code(err.kind()),
            format!("connect to {dest} failed: {err}"),
        )
    }

    /// Classifies a connect that Node made for the engine (the Node-dialled path), from the
    /// `code` of Node's error: an errno name (`ECONNREFUSED`, ...) goes through the same
    /// classification as a native connect's error, so the same failure gives the same code
    /// either way; one of the engine's own codes (`POOL_CLOSED`, ...) is taken as it is.
    /// `detail` is Node's message.
    pub fn from_node_connect(dest: &str, code: &str, detail: &str) -> Self {
        if let Some(own) = DialErrorCode::ALL.iter().find(|c| c.as_str() == code) {
            return DialError::new(*own, format!("connect to {dest} failed: {detail}"));
        }
        let kind = match code {
            "ECONNREFUSED" => io::ErrorKind::ConnectionRefused,
            "ENOENT" => io::ErrorKind::NotFound,
            "ETIMEDOUT" => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        DialError::new(
            connect_code(kind),
            format!("connect to {dest} failed: {detail}"),
        )
    }
}

/// The code of a failed connect, by what the OS said: the one place that decides it, for
/// native connects and Node's alike.
fn connect_code(kind: io::ErrorKind) -> DialErrorCode {
    match kind {
        // A unix socket path with nobody behind it is the same situation as a refused port.
        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => DialErrorCode::ConnectRefused,
        io::ErrorKind::TimedOut => DialErrorCode::ConnectTimeout,
        _ => DialErrorCode::ConnectFailed,
    }
}
