//! Linux: the socket by the kernel's exact lookup (or `/proc/net/tcp`), then its holder among
//! the socket owner's processes.

use crate::{describe, recent, ClientAddr};
use std::net::SocketAddr;

pub(crate) fn process_of(addr: ClientAddr) -> Option<String> {
    let (uid, inode) = socket_by_diag(addr).or_else(|| {
        ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .find_map(|table| socket_in(table, addr))
    })?;
    let want = format!("socket:[{inode}]");
    let everyone = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok());
    let pid = recent::find(everyone, |pid| holds(pid, uid, &want))?;
    let dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
    // The executable's path (what an exception should name: a program name is easy to
    // imitate, a path under /usr is not writable without admin rights).
    let exe = std::fs::read_link(dir.join("exe")).ok();
    Some(describe(
        &comm,
        pid,
        exe.as_ref().map(|p| p.to_string_lossy()).as_deref(),
    ))
}

/// Whether process `pid`, owned by `uid` (only the socket owner's processes can hold it, and
/// only those are readable), has the descriptor `want` (`socket:[inode]`).
fn holds(pid: u32, uid: u32, want: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    if std::fs::metadata(&dir).map(|m| m.uid()).ok() != Some(uid) {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want))
}

/// The (uid, inode) of the TCP socket from `addr.client` to `addr.guard`, asked of the kernel
/// by its four addresses (`NETLINK_SOCK_DIAG`, an exact lookup, as `ss` makes): reading
/// `/proc/net/tcp` walks the kernel's whole connection table, milliseconds even when it holds
/// a dozen sockets. `None` when netlink is refused (a sandbox) or finds nothing: the tables
/// are read then.
fn socket_by_diag(addr: ClientAddr) -> Option<(u32, u64)> {
    use rustix::net::{netlink, recv, sendto, socket_with};
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const HEADER: usize = 16;
    // Both ends as `inet_diag_sockid` writes them: 16 bytes each, an IPv4 address first.
    fn ip16(ip: std::net::IpAddr) -> [u8; 16] {
        match ip {
            std::net::IpAddr::V4(v4) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&v4.octets());
                b
            }
            std::net::IpAddr::V6(v6) => v6.octets(),
        }
    }
    let family: u8 = match (addr.client, addr.guard) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) => 2,  // AF_INET
        (SocketAddr::V6(_), SocketAddr::V6(_)) => 10, // AF_INET6
        _ => return None,
    };
    let fd = socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )
    .ok()?;
    // `nlmsghdr` (length, type, flags, sequence, port) then `inet_diag_req_v2`: family, TCP,
    // no extensions, every state, and the socket's id (ports big-endian, no interface, no
    // cookie).
    let mut req = Vec::with_capacity(72);
    req.extend(72u32.to_ne_bytes());
    req.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend(NLM_F_REQUEST.to_ne_bytes());
    req.extend(1u32.to_ne_bytes());
    req.extend(0u32.to_ne_bytes());
    req.extend([family, 6, 0, 0]);
    req.extend(u32::MAX.to_ne_bytes());
    req.extend(addr.client.port().to_be_bytes());
    req.extend(addr.guard.port().to_be_bytes());
    req.extend(ip16(addr.client.ip()));
    req.extend(ip16(addr.guard.ip()));
    req.extend(0u32.to_ne_bytes());
    req.extend([0xff; 8]);
    sendto(
        &fd,
        &req,
        SendFlags::empty(),
        &netlink::SocketAddrNetlink::new(0, 0),
    )
    .ok()?;
    let mut buf = [0u8; 512];
    let (_, n) = recv(&fd, &mut buf[..], RecvFlags::empty()).ok()?;
    let msg = buf.get(..n)?;
    // An error (no such socket) is `NLMSG_ERROR`; the answer is one `inet_diag_msg`, whose
    // uid and inode follow the id and three queue and timer words.
    if msg.get(4..6)? != SOCK_DIAG_BY_FAMILY.to_ne_bytes() {
        return None;
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(
            msg.get(HEADER + at..HEADER + at + 4)?.try_into().ok()?,
        ))
    };
    Some((word(64)?, u64::from(word(68)?)))
}

/// The (uid, inode) of the socket from `addr.client` to `addr.guard` in a `/proc/net/tcp`
/// table.
fn socket_in(table: &str, addr: ClientAddr) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(table).ok()?;
    let (local, remote) = (hex_addr(addr.client), hex_addr(addr.guard));
    // Fields: slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode. The
    // header line's fields are names, which never equal an address.
    text.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let (l, r) = (f.nth(1)?, f.next()?);
        if !(l.eq_ignore_ascii_case(&local) && r.eq_ignore_ascii_case(&remote)) {
            return None;
        }
        let uid = f.nth(4)?.parse().ok()?;
        let inode = f.nth(1)?.parse().ok()?;
        Some((uid, inode))
    })
}

/// An address as `/proc/net/tcp` writes it: the IP as 32-bit words in host order, in hex, then
/// `:` and the port in hex.
fn hex_addr(a: SocketAddr) -> String {
    let ip = match a.ip() {
        std::net::IpAddr::V4(v4) => format!("{:08X}", u32::from_ne_bytes(v4.octets())),
        std::net::IpAddr::V6(v6) => v6
            .octets()
            .chunks(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect(),
    };
    format!("{ip}:{:04X}", a.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{executable, process_of, program, Peer};

    #[test]
    fn this_process_is_found_on_its_own_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let addr = ClientAddr {
            client: client.local_addr().unwrap(),
            guard: listener.local_addr().unwrap(),
        };
        let found = process_of(addr).expect("the socket's process");
        // The kernel's exact lookup and its table agree on the socket.
        assert_eq!(
            socket_by_diag(addr),
            socket_in("/proc/net/tcp", addr),
            "netlink and /proc/net/tcp"
        );
        assert!(socket_by_diag(addr).is_some());
        assert!(
            found.contains(&format!(" ({}) ", std::process::id())),
            "{found}"
        );
        // No such connection: nothing.
        let other = ClientAddr {
            client: "127.0.0.1:1".parse().unwrap(),
            guard: addr.guard,
        };
        assert_eq!(process_of(other), None);
    }

    #[test]
    fn a_recent_process_is_asked_first_and_another_one_is_still_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let guard = listener.local_addr().unwrap();
        let mine = std::net::TcpStream::connect(guard).unwrap();
        let me = format!(" ({}) ", std::process::id());
        let found = process_of(ClientAddr {
            client: mine.local_addr().unwrap(),
            guard,
        });
        assert!(found.is_some_and(|f| f.contains(&me)));
        // This process is now first in line, and does not hold a child's socket: the child
        // is found, not this process.
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1]))); \
                 print(s.getsockname()[1], flush=True); sys.stdin.read()",
                &guard.port().to_string(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the child's port");
        let theirs = process_of(ClientAddr {
            client: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            guard,
        })
        .expect("the child's socket is found");
        assert!(
            theirs.contains(&format!(" ({}) ", child.id())) && !theirs.contains(&me),
            "{theirs}"
        );
        drop(child.stdin.take());
        child.wait().unwrap();
    }

    #[test]
    fn a_connection_asks_the_process_table_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let peer = Peer::new(ClientAddr {
            client: client.local_addr().unwrap(),
            guard: listener.local_addr().unwrap(),
        });
        assert_eq!(peer.known(), None, "not looked up before it is needed");
        let found = peer.process().expect("found");
        assert_eq!(peer.known(), Some(Some(found.clone())));
        assert!(!program(&found).contains('('), "{found}");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(executable(&found), exe.to_str(), "{found}");
        use leakguard_policy::process_named as names;
        assert!(names(exe.to_str().unwrap(), &found));
        assert!(names(program(&found), &found));
        assert!(!names("/usr/bin/python3", &found));
    }

    #[test]
    fn addresses_are_written_as_the_kernel_writes_them() {
        if cfg!(target_endian = "little") {
            assert_eq!(hex_addr("127.0.0.1:8480".parse().unwrap()), "0100007F:2120");
        }
    }
}
