//! Which local program sent a request: the owner of the client's end of the loopback
//! connection to the guard.
//!
//! Linux: the socket is found in `/proc/net/tcp{,6}` by its two addresses (its inode and owner's
//! uid), then the process holding that inode among the processes of that uid (`/proc/<pid>/fd`,
//! as `ss -p` does). That scan costs about a millisecond per hundred processes, so it is made
//! at most once per connection ([`Peer`]), and only when needed: for a request with findings
//! (the ones a security team asks "which program?" about), or when the policy has exceptions
//! by program; clean traffic never pays it. macOS (`proc_pidfdinfo`/`lsof`) and Windows
//! (`GetExtendedTcpTable`) have documented equivalents, not built here.

use std::net::SocketAddr;

/// A connection's two ends as the guard saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client's address (its end of the connection).
    pub client: SocketAddr,
    /// The guard's address on this connection.
    pub guard: SocketAddr,
}

/// One client connection to the guard: its two ends, and the program behind it once asked.
#[derive(Debug)]
pub struct Peer {
    pub addr: ClientAddr,
    process: std::sync::OnceLock<Option<String>>,
}

impl Peer {
    pub fn new(addr: ClientAddr) -> Peer {
        Peer {
            addr,
            process: std::sync::OnceLock::new(),
        }
    }

    /// The program, if it was already looked up on this connection.
    pub fn known(&self) -> Option<Option<String>> {
        self.process.get().cloned()
    }

    /// The program, looked up once per connection (blocking: the process table is read).
    pub fn process(&self) -> Option<String> {
        self.process.get_or_init(|| process_of(self.addr)).clone()
    }
}

/// The program name of `comm (pid) exe`.
pub fn program(process: &str) -> &str {
    process.split_once(" (").map_or(process, |(name, _)| name)
}

/// The executable's path of `comm (pid) exe`, when it was readable.
pub fn executable(process: &str) -> Option<&str> {
    process
        .split_once(") ")
        .map(|(_, exe)| exe)
        .filter(|e| e.starts_with('/'))
}

/// `comm (pid)` of the local process whose socket is `addr.client` connected to `addr.guard`.
#[cfg(target_os = "linux")]
pub fn process_of(addr: ClientAddr) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let (uid, inode) = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| socket_in(table, addr))?;
    let want = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // Only the socket owner's processes can hold it (and only those are readable).
        if entry.metadata().map(|m| m.uid()).ok() != Some(uid) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()));
        if holds {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            // The executable's path (what an exception should name: a program name is easy
            // to imitate, a path under /usr is not writable without admin rights).
            let exe = std::fs::read_link(entry.path().join("exe"))
                .map(|p| format!(" {}", p.display()))
                .unwrap_or_default();
            return Some(format!("{} ({pid}){exe}", comm.trim()));
        }
    }
    None
}

/// Not built for this OS.
#[cfg(not(target_os = "linux"))]
pub fn process_of(_addr: ClientAddr) -> Option<String> {
    None
}

/// The (uid, inode) of the socket from `addr.client` to `addr.guard` in a `/proc/net/tcp`
/// table.
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_on_its_own_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let addr = ClientAddr {
            client: client.local_addr().unwrap(),
            guard: listener.local_addr().unwrap(),
        };
        let found = process_of(addr).expect("the socket's process");
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
