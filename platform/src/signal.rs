//! SIGINT and SIGTERM as readiness: the handler writes a byte to a socket pair whose read end the
//! poller watches, so the event loop learns of a signal in its normal wait, without a timer.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::low_level::pipe;

use crate::wake::WakeUp;

/// The read end of the shutdown-signal pipe: readable once SIGINT or SIGTERM arrived.
#[derive(Debug)]
pub struct ShutdownSignal {
    read: WakeUp,
}

impl ShutdownSignal {
    /// Route SIGINT and SIGTERM into a new pipe. Their default action (terminating the process)
    /// is replaced for the life of the process.
    pub fn install() -> io::Result<ShutdownSignal> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        // The handler's write must never block inside a signal handler.
        write.set_nonblocking(true)?;
        let second_write = write.try_clone()?;
        pipe::register(SIGINT, write)?;
        pipe::register(SIGTERM, second_write)?;
        Ok(ShutdownSignal {
            read: WakeUp::from_read_end(read),
        })
    }

    /// Consume pending notifications; true if any signal arrived since the last call.
    pub fn take(&self) -> bool {
        self.read.take()
    }
}

impl AsFd for ShutdownSignal {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigterm_makes_the_pipe_readable() {
        let signal = ShutdownSignal::install().expect("install handlers");
        assert!(!signal.take());
        signal_hook::low_level::raise(SIGTERM).expect("raise");
        assert!(signal.take(), "the handler wrote to the pipe");
        assert!(!signal.take(), "drained");
    }
}
