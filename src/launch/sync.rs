//! The parent <-> init protocol: short datagrams over a SOCK_SEQPACKET socketpair, so every
//! message arrives whole and a dead peer is seen as end-of-file.
//!
//! parent -> init: `go` (id maps written, cgroup joined), `ack` (state saved, create done).
//! init -> parent: `ready` (waiting for start) or `error:<message>`.

use crate::error::{Ctx, Error, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::{AsRawFd, OwnedFd};

pub struct Channel(pub OwnedFd);

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx("socketpair", "sync")?;
    Ok((Channel(a), Channel(b)))
}

pub enum Msg {
    Go,
    Ack,
    Ready,
    /// init -> parent: mounts are done, run prestart/createRuntime hooks now.
    Hooks,
    /// parent -> init: the state JSON the container's own hooks get.
    State(String),
    /// The host pid of a process the peer started (exec's final child).
    Pid(i32),
    Failed(String),
}

impl Channel {
    pub fn send(&self, m: &Msg) -> Result<()> {
        let bytes: Vec<u8> = match m {
            Msg::Go => b"go".to_vec(),
            Msg::Ack => b"ack".to_vec(),
            Msg::Ready => b"ready".to_vec(),
            Msg::Hooks => b"hooks".to_vec(),
            Msg::State(s) => format!("state:{s}").into_bytes(),
            Msg::Pid(p) => format!("pid:{p}").into_bytes(),
            // Errors are cut to fit one datagram comfortably.
            Msg::Failed(s) => format!("error:{}", &s[..s.len().min(60_000)]).into_bytes(),
        };
        send(self.0.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
            .ctx("send", "sync socket")
            .map(drop)
    }

    /// `None` when the peer has gone away.
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 65_536];
        let n = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.ctx("recv", "sync socket")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let b = &buf[..n];
        Ok(Some(match b {
            b"go" => Msg::Go,
            b"ack" => Msg::Ack,
            b"ready" => Msg::Ready,
            b"hooks" => Msg::Hooks,
            _ if b.starts_with(b"state:") => {
                Msg::State(String::from_utf8_lossy(&b[6..]).into_owned())
            }
            _ if b.starts_with(b"pid:") => match std::str::from_utf8(&b[4..])
                .ok()
                .and_then(|p| p.parse().ok())
            {
                Some(p) => Msg::Pid(p),
                None => return Err(Error::msg("sync socket: malformed pid message")),
            },
            _ => match b.strip_prefix(b"error:") {
                Some(m) => Msg::Failed(String::from_utf8_lossy(m).into_owned()),
                None => {
                    return Err(Error::msg(format!(
                        "sync socket: unexpected message {:?}",
                        String::from_utf8_lossy(b)
                    )))
                }
            },
        }))
    }
}
