//! Readiness: epoll on Linux (driven directly through `rustix`), `polling` elsewhere (kqueue on
//! macOS and the BSDs).
//!
//! Sources are registered level-triggered: a socket stays ready until drained, so a loop that
//! reads a bounded amount per turn (for fairness) is woken again for the rest. A [`Registered`]
//! source removes itself from the poller when dropped, which is what `polling` requires of its
//! callers and why registering is safe here.

use std::io;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::Duration;

#[cfg(any(target_os = "linux", target_os = "android"))]
use backend_epoll as backend;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use backend_polling as backend;

/// The name of the readiness mechanism in use, for the banner.
pub const POLLER_NAME: &str = if cfg!(any(target_os = "linux", target_os = "android")) {
    "epoll"
} else if cfg!(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)) {
    "kqueue"
} else {
    "poll"
};

/// Which readiness a source waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Interest {
    /// Wake when reading would not block (or a listener has a connection pending).
    pub readable: bool,
    /// Wake when writing would not block.
    pub writable: bool,
}

impl Interest {
    /// Only readable.
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
}

/// A source that became ready, named by the key it was registered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// The key given at registration.
    pub key: usize,
    /// Reading would not block (data, EOF or an error is waiting).
    pub readable: bool,
    /// Writing would not block.
    pub writable: bool,
}

/// Waits for readiness of registered sources.
#[derive(Debug)]
pub struct Poller {
    inner: Rc<backend::Poller>,
}

/// A source registered with a [`Poller`]; dropping it deregisters it.
#[derive(Debug)]
pub struct Registered<S: AsFd> {
    poller: Rc<backend::Poller>,
    source: S,
    key: usize,
    interest: Interest,
}

impl Poller {
    /// A new poller.
    pub fn new() -> io::Result<Poller> {
        Ok(Poller {
            inner: Rc::new(backend::Poller::new()?),
        })
    }

    /// Watch `source` for `interest`; readiness is reported with `key`, which must not be
    /// `usize::MAX` (reserved by the `polling` backend).
    pub fn register<S: AsFd>(
        &self,
        source: S,
        key: usize,
        interest: Interest,
    ) -> io::Result<Registered<S>> {
        self.inner.add(source.as_fd(), key, interest)?;
        Ok(Registered {
            poller: Rc::clone(&self.inner),
            source,
            key,
            interest,
        })
    }

    /// Wait until a source is ready or `timeout` passes (`None`: wait indefinitely), then append
    /// what is ready to `ready` (cleared first). A signal interrupting the wait returns with
    /// `ready` empty.
    pub fn wait(
        &mut self,
        ready: &mut Vec<Readiness>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        ready.clear();
        match self.inner.wait(ready, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                ready.clear();
                Ok(())
            }
            other => other,
        }
    }
}

impl<S: AsFd> Registered<S> {
    /// The registered source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The key readiness is reported with.
    pub fn key(&self) -> usize {
        self.key
    }

    /// What the source waits for now.
    pub fn interest(&self) -> Interest {
        self.interest
    }

    /// Change what the source waits for; a no-op if unchanged.
    pub fn set_interest(&mut self, interest: Interest) -> io::Result<()> {
        if interest == self.interest {
            return Ok(());
        }
        self.poller
            .modify(self.source.as_fd(), self.key, interest)?;
        self.interest = interest;
        Ok(())
    }
}

impl<S: AsFd> Drop for Registered<S> {
    fn drop(&mut self) {
        // Failure means the poller no longer knows the fd; nothing is left to undo.
        let _ = self.poller.delete(self.source.as_fd());
    }
}

/// epoll driven directly, level-triggered: one `epoll_wait` per turn and an `epoll_ctl` only when
/// a source's interest changes. (`polling`'s epoll backend re-arms a timerfd and a notifier on
/// every wait: three more system calls per turn, a third of a small request's cost.)
#[cfg(any(target_os = "linux", target_os = "android"))]
mod backend_epoll {
    use std::cell::RefCell;
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};
    use std::time::Duration;

    use rustix::event::{Timespec, epoll};

    use super::{Interest, Readiness};

    /// Events taken from the kernel per wait; more stay pending for the next turn.
    const EVENTS_PER_WAIT: usize = 256;

    pub struct Poller {
        epoll: OwnedFd,
        // Reused across waits so a turn of the loop allocates nothing here.
        events: RefCell<Vec<epoll::Event>>,
    }

    impl std::fmt::Debug for Poller {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Poller")
                .field("epoll", &self.epoll)
                .finish_non_exhaustive()
        }
    }

    fn flags(interest: Interest) -> epoll::EventFlags {
        let mut f = epoll::EventFlags::empty();
        if interest.readable {
            f |= epoll::EventFlags::IN | epoll::EventFlags::RDHUP;
        }
        if interest.writable {
            f |= epoll::EventFlags::OUT;
        }
        f
    }

    impl Poller {
        pub fn new() -> io::Result<Poller> {
            Ok(Poller {
                epoll: epoll::create(epoll::CreateFlags::CLOEXEC)?,
                events: RefCell::new(Vec::with_capacity(EVENTS_PER_WAIT)),
            })
        }

        pub fn add(&self, fd: BorrowedFd<'_>, key: usize, interest: Interest) -> io::Result<()> {
            let data = epoll::EventData::new_u64(key as u64);
            Ok(epoll::add(&self.epoll, fd, data, flags(interest))?)
        }

        pub fn modify(&self, fd: BorrowedFd<'_>, key: usize, interest: Interest) -> io::Result<()> {
            let data = epoll::EventData::new_u64(key as u64);
            Ok(epoll::modify(&self.epoll, fd, data, flags(interest))?)
        }

        pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
            Ok(epoll::delete(&self.epoll, fd)?)
        }

        pub fn wait(
            &self,
            ready: &mut Vec<Readiness>,
            timeout: Option<Duration>,
        ) -> io::Result<()> {
            let timeout = timeout.map(|t| Timespec {
                tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(t.subsec_nanos()),
            });
            let mut events = self.events.borrow_mut();
            events.clear();
            epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut *events),
                timeout.as_ref(),
            )?;
            ready.extend(events.iter().map(|e| {
                let f = e.flags;
                // Errors and hang-ups wake both directions: the next read or write reports them.
                let broken = f.intersects(epoll::EventFlags::ERR | epoll::EventFlags::HUP);
                Readiness {
                    key: e.data.u64() as usize,
                    readable: broken
                        || f.intersects(epoll::EventFlags::IN | epoll::EventFlags::RDHUP),
                    writable: broken || f.contains(epoll::EventFlags::OUT),
                }
            }));
            Ok(())
        }
    }
}

/// `polling` (kqueue on macOS and the BSDs, poll elsewhere), level-triggered.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod backend_polling {
    use std::cell::RefCell;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};
    use std::time::Duration;

    use polling::{Event, Events, PollMode};

    use super::{Interest, Readiness};

    #[derive(Debug)]
    pub struct Poller {
        inner: polling::Poller,
        events: RefCell<Events>,
    }

    fn event(key: usize, interest: Interest) -> Event {
        match (interest.readable, interest.writable) {
            (true, true) => Event::all(key),
            (true, false) => Event::readable(key),
            (false, true) => Event::writable(key),
            (false, false) => Event::none(key),
        }
    }

    impl Poller {
        pub fn new() -> io::Result<Poller> {
            Ok(Poller {
                inner: polling::Poller::new()?,
                events: RefCell::new(Events::new()),
            })
        }

        pub fn add(&self, fd: BorrowedFd<'_>, key: usize, interest: Interest) -> io::Result<()> {
            // SAFETY: `polling` requires the source be deleted before it is closed. Every
            // source is added through `Registered`, which owns it and deletes it in `Drop`
            // before the source's own drop.
            #[allow(unsafe_code)]
            unsafe {
                self.inner
                    .add_with_mode(fd.as_raw_fd(), event(key, interest), PollMode::Level)
            }
        }

        pub fn modify(&self, fd: BorrowedFd<'_>, key: usize, interest: Interest) -> io::Result<()> {
            self.inner
                .modify_with_mode(fd, event(key, interest), PollMode::Level)
        }

        pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
            self.inner.delete(fd)
        }

        pub fn wait(
            &self,
            ready: &mut Vec<Readiness>,
            timeout: Option<Duration>,
        ) -> io::Result<()> {
            let mut events = self.events.borrow_mut();
            events.clear();
            self.inner.wait(&mut events, timeout)?;
            ready.extend(events.iter().map(|e| Readiness {
                key: e.key,
                readable: e.readable,
                writable: e.writable,
            }));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Listener;
    use std::io::Write;
    use std::time::Instant;

    #[test]
    fn wait_times_out_without_events_and_wakes_on_readiness() {
        let mut poller = Poller::new().expect("poller");
        let listener =
            Listener::bind("127.0.0.1:0".parse().expect("literal address")).expect("bind loopback");
        let addr = listener.local_addr();
        let listener = poller
            .register(listener, 1, Interest::READABLE)
            .expect("register");
        let mut ready = Vec::new();

        let start = Instant::now();
        poller
            .wait(&mut ready, Some(Duration::from_millis(20)))
            .expect("wait");
        assert!(ready.is_empty());
        assert!(start.elapsed() >= Duration::from_millis(15));

        let mut client = std::net::TcpStream::connect(addr).expect("connect");
        poller
            .wait(&mut ready, Some(Duration::from_secs(5)))
            .expect("wait");
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].key, 1);
        assert!(ready[0].readable);

        let stream = listener
            .source()
            .accept()
            .expect("accept")
            .expect("a connection is pending");
        let mut stream = poller
            .register(stream, 2, Interest::default())
            .expect("register stream");
        client.write_all(b"x").expect("write");
        // Not interested in reading yet: the byte must not wake us.
        poller
            .wait(&mut ready, Some(Duration::from_millis(20)))
            .expect("wait");
        assert!(ready.iter().all(|r| r.key != 2), "{ready:?}");

        stream
            .set_interest(Interest {
                readable: true,
                writable: true,
            })
            .expect("modify");
        poller
            .wait(&mut ready, Some(Duration::from_secs(5)))
            .expect("wait");
        let r = ready.iter().find(|r| r.key == 2).expect("stream is ready");
        assert!(r.readable && r.writable);
    }
}
