//! Non-blocking TCP on `rustix`.
//!
//! `rustix` rather than `std::net`: std binds before one could clear `IPV6_V6ONLY` (needed for a
//! dual-stack `::` on the BSDs and macOS, where it defaults to on). The system calls are the same
//! either way, so neither is faster.
//!
//! Writing to a socket the peer has closed returns `EPIPE` rather than killing the process: Rust's
//! runtime sets `SIGPIPE` to ignored before `main`.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketType, sockopt};
// Apple systems have no socket flags at creation (see `new_socket`).
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
use rustix::net::SocketFlags;

/// Pending connections the kernel queues before `accept` (it caps this at `somaxconn`).
const LISTEN_BACKLOG: i32 = 1024;

/// A listening TCP socket in non-blocking mode.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    local_addr: SocketAddr,
}

/// What a read got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes (at least one) were read.
    Data(usize),
    /// Nothing to read now; wait for readiness.
    WouldBlock,
    /// The peer closed its side.
    Eof,
}

impl Listener {
    /// Listen on `addr` with `SO_REUSEADDR` (a restarted broker rebinds at once despite
    /// connections in TIME_WAIT). Binding `::` accepts IPv4 clients too (dual-stack).
    pub fn bind(addr: SocketAddr) -> io::Result<Listener> {
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::INET,
            SocketAddr::V6(_) => AddressFamily::INET6,
        };
        let fd = new_socket(family)?;
        sockopt::set_socket_reuseaddr(&fd, true)?;
        if addr.is_ipv6() {
            sockopt::set_ipv6_v6only(&fd, false)?;
        }
        rustix::net::bind(&fd, &addr)?;
        rustix::net::listen(&fd, LISTEN_BACKLOG)?;
        let local_addr = SocketAddr::try_from(rustix::net::getsockname(&fd)?)
            .map_err(|_| io::Error::other("listener has no IP socket address"))?;
        Ok(Listener { fd, local_addr })
    }

    /// The address actually bound (with the port the OS chose when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accept one pending connection, non-blocking with `TCP_NODELAY` set (Kafka responses are
    /// small and latency-bound). `Ok(None)` when none is pending.
    pub fn accept(&self) -> io::Result<Option<Stream>> {
        loop {
            match accept_socket(&self.fd) {
                Ok(fd) => {
                    sockopt::set_tcp_nodelay(&fd, true)?;
                    return Ok(Some(Stream { fd }));
                }
                Err(Errno::INTR) => continue,
                // The peer gave up while queued: nothing to serve, look at the next one.
                Err(Errno::CONNABORTED) => continue,
                Err(e) if is_would_block(e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A connected TCP socket in non-blocking mode.
#[derive(Debug)]
pub struct Stream {
    fd: OwnedFd,
}

impl Stream {
    /// Read into `buf` (which must not be empty).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        debug_assert!(!buf.is_empty(), "a zero-length read cannot tell EOF apart");
        loop {
            match rustix::io::read(&self.fd, &mut *buf) {
                Ok(0) => return Ok(ReadOutcome::Eof),
                Ok(n) => return Ok(ReadOutcome::Data(n)),
                Err(Errno::INTR) => continue,
                Err(e) if is_would_block(e) => return Ok(ReadOutcome::WouldBlock),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Gather-write `bufs`; `Ok(None)` when the socket buffer is full. May write only a prefix.
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<Option<usize>> {
        loop {
            match rustix::io::writev(&self.fd, bufs) {
                Ok(n) => return Ok(Some(n)),
                Err(Errno::INTR) => continue,
                Err(e) if is_would_block(e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The peer's address, for logs.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let addr = rustix::net::getpeername(&self.fd)?
            .ok_or_else(|| io::Error::other("stream has no peer address"))?;
        SocketAddr::try_from(addr).map_err(|_| io::Error::other("peer is not an IP address"))
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn is_would_block(e: Errno) -> bool {
    // EAGAIN and EWOULDBLOCK are equal on Linux and macOS but not everywhere.
    e == Errno::AGAIN || e == Errno::WOULDBLOCK
}

#[cfg(not(any(target_os = "macos", target_os = "ios")))]
fn new_socket(family: AddressFamily) -> io::Result<OwnedFd> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    Ok(rustix::net::socket_with(
        family,
        SocketType::STREAM,
        flags,
        None,
    )?)
}

#[cfg(not(any(target_os = "macos", target_os = "ios")))]
fn accept_socket(listener: &OwnedFd) -> Result<OwnedFd, Errno> {
    rustix::net::accept_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
}

// Apple systems have no SOCK_NONBLOCK/SOCK_CLOEXEC flags: set both after the fact.
#[cfg(any(target_os = "macos", target_os = "ios"))]
fn new_socket(family: AddressFamily) -> io::Result<OwnedFd> {
    let fd = rustix::net::socket(family, SocketType::STREAM, None)?;
    make_nonblocking_cloexec(&fd)?;
    Ok(fd)
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
fn accept_socket(listener: &OwnedFd) -> Result<OwnedFd, Errno> {
    let fd = rustix::net::accept(listener)?;
    make_nonblocking_cloexec(&fd)?;
    Ok(fd)
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
fn make_nonblocking_cloexec(fd: &OwnedFd) -> Result<(), Errno> {
    rustix::io::ioctl_fionbio(fd, true)?;
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    fn accept_within(listener: &Listener, timeout: Duration) -> Stream {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(stream) = listener.accept().expect("accept works on loopback") {
                return stream;
            }
            assert!(Instant::now() < deadline, "no connection arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn read_within(stream: &Stream, buf: &mut [u8], timeout: Duration) -> ReadOutcome {
        let deadline = Instant::now() + timeout;
        loop {
            match stream.read(buf).expect("read works on loopback") {
                ReadOutcome::WouldBlock => {
                    assert!(Instant::now() < deadline, "nothing to read");
                    std::thread::sleep(Duration::from_millis(1));
                }
                other => return other,
            }
        }
    }

    #[test]
    fn ipv4_round_trip_with_writev_and_eof() {
        let listener =
            Listener::bind("127.0.0.1:0".parse().expect("literal address")).expect("bind loopback");
        assert_ne!(listener.local_addr().port(), 0);
        assert!(
            listener.accept().expect("accept").is_none(),
            "nothing pending yet"
        );

        let mut client =
            std::net::TcpStream::connect(listener.local_addr()).expect("connect loopback");
        let server = accept_within(&listener, Duration::from_secs(5));
        let mut buf = [0u8; 16];
        assert_eq!(
            server.read(&mut buf).expect("read"),
            ReadOutcome::WouldBlock
        );

        client.write_all(b"ping").expect("client write");
        assert_eq!(
            read_within(&server, &mut buf, Duration::from_secs(5)),
            ReadOutcome::Data(4)
        );
        assert_eq!(&buf[..4], b"ping");

        let written = server
            .write_vectored(&[IoSlice::new(b"po"), IoSlice::new(b"ng")])
            .expect("writev");
        assert_eq!(written, Some(4));
        let mut got = [0u8; 4];
        client.read_exact(&mut got).expect("client read");
        assert_eq!(&got, b"pong");

        drop(client);
        assert_eq!(
            read_within(&server, &mut buf, Duration::from_secs(5)),
            ReadOutcome::Eof
        );
    }

    #[test]
    fn dual_stack_listener_accepts_ipv4_clients() {
        let Ok(listener) = Listener::bind("[::]:0".parse().expect("literal address")) else {
            // A host without IPv6 cannot bind `::`: nothing to check there.
            return;
        };
        let port = listener.local_addr().port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect v4");
        let stream = accept_within(&listener, Duration::from_secs(5));
        assert!(stream.peer_addr().is_ok());
    }

    #[test]
    fn writes_to_a_full_socket_report_would_block() {
        let listener =
            Listener::bind("127.0.0.1:0".parse().expect("literal address")).expect("bind loopback");
        let _client = std::net::TcpStream::connect(listener.local_addr()).expect("connect");
        let server = accept_within(&listener, Duration::from_secs(5));
        let chunk = vec![7u8; 1 << 20];
        let mut total = 0usize;
        // The client never reads, so the kernel buffers fill within a bounded number of writes.
        for _ in 0..1024 {
            match server
                .write_vectored(&[IoSlice::new(&chunk)])
                .expect("writev")
            {
                Some(n) => total += n,
                None => return assert!(total > 0),
            }
        }
        panic!("socket never filled after {total} bytes");
    }
}
