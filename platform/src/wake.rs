//! A thread's way to wake the event loop: a byte written to a socket pair whose read end the
//! poller watches, as for signals. The loop then looks at what the thread left for it.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// The write end, for the thread that has something for the loop.
#[derive(Debug)]
pub struct Waker {
    write: UnixStream,
}

/// The read end, for the loop's poller: readable once [`Waker::wake`] was called.
#[derive(Debug)]
pub struct WakeUp {
    read: UnixStream,
}

/// A new pair.
pub fn pair() -> io::Result<(Waker, WakeUp)> {
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    // A full buffer means a wake-up is already pending: the waking thread never blocks on it.
    write.set_nonblocking(true)?;
    Ok((Waker { write }, WakeUp { read }))
}

impl Waker {
    /// Make the read end readable.
    pub fn wake(&self) -> io::Result<()> {
        loop {
            match (&self.write).write(&[1]) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl WakeUp {
    /// The read end of a pair made elsewhere (the signal handlers' pipe), non-blocking.
    pub(crate) fn from_read_end(read: UnixStream) -> WakeUp {
        WakeUp { read }
    }

    /// Consume pending wake-ups; true if there was one.
    pub fn take(&self) -> bool {
        let mut buf = [0u8; 256];
        let mut woken = false;
        // Bounded: each wake-up is a byte, and nothing refills the pipe this fast.
        for _ in 0..64 {
            match (&self.read).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => woken = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        woken
    }
}

impl AsFd for WakeUp {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

/// The nice value of a background thread: a tenth of the CPU of a normal one when both want
/// it, so it yields to the event loop yet is not starved on a busy machine.
pub const BACKGROUND_NICE: i32 = 10;

/// Lower the calling thread's scheduling priority to [`BACKGROUND_NICE`], for work that should
/// give way to the event loop. Linux only, where a nice value is a thread's own; elsewhere it
/// would lower the whole process, so it does nothing there.
pub fn lower_this_threads_priority() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    rustix::process::setpriority_process(None, BACKGROUND_NICE)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_from_another_thread_makes_the_read_end_readable_once() {
        let (waker, wake_up) = pair().expect("pair");
        assert!(!wake_up.take());
        std::thread::spawn(move || {
            waker.wake().expect("wake");
            waker.wake().expect("wake again");
        })
        .join()
        .expect("thread");
        assert!(wake_up.take(), "woken");
        assert!(!wake_up.take(), "drained");
    }

    #[test]
    fn a_thread_lowers_its_own_priority_only() {
        let before = rustix::process::getpriority_process(None).expect("priority");
        std::thread::spawn(|| {
            lower_this_threads_priority().expect("lowered");
            #[cfg(target_os = "linux")]
            assert_eq!(
                rustix::process::getpriority_process(None).ok(),
                Some(BACKGROUND_NICE)
            );
        })
        .join()
        .expect("thread");
        assert_eq!(
            rustix::process::getpriority_process(None).ok(),
            Some(before)
        );
    }
}
