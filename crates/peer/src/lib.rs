//! Which local program sent a request: the owner of the client's end of the loopback
//! connection to the guard, as `name (pid) /path/to/executable`.
//!
//! - **Linux**: the socket is found by the kernel's exact lookup (`NETLINK_SOCK_DIAG` with the
//!   connection's four addresses, as `ss` asks; `/proc/net/tcp{,6}` where netlink is refused):
//!   its inode and owner's uid; then the process holding that inode among the processes of that
//!   uid (`/proc/<pid>/fd`, as `ss -p` does).
//! - **macOS**: the processes' descriptors through libproc (`proc_pidinfo(PROC_PIDLISTFDS)`,
//!   then `proc_pidfdinfo(PROC_PIDFDSOCKETINFO)` on each socket, as `lsof -i` does): the one
//!   whose TCP socket has the connection's two addresses.
//! - **Windows**: the TCP table with owning processes (`GetExtendedTcpTable`,
//!   `TCP_TABLE_OWNER_PID_CONNECTIONS`, as `netstat -ano` shows it), then the executable's path
//!   (`QueryFullProcessImageNameW`).
//!
//! On Linux and macOS the processes that held the last connections are asked first (a browser
//! or an SDK opens many connections; one process's descriptors are far fewer than everyone's),
//! the rest only when none of them holds the socket: holding the socket is the proof, so a
//! reused pid cannot answer for another program. The lookup is made at most once per
//! connection ([`Peer`]), and only when needed (a request with findings, or a policy with
//! exceptions by program): clean traffic never pays it.
//!
//! The Linux code is tested here for real; the macOS and Windows code is compiled for its
//! targets by `scripts/cross-check.sh`, which also runs the Windows tests under Wine (no macOS
//! or Windows machine here).

use std::net::SocketAddr;

#[cfg(windows)]
pub mod ip_helper;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

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

/// The program name of `name (pid) exe`.
pub fn program(process: &str) -> &str {
    process.split_once(" (").map_or(process, |(name, _)| name)
}

/// The executable's path of `name (pid) exe`, when it was readable.
pub fn executable(process: &str) -> Option<&str> {
    process
        .split_once(") ")
        .map(|(_, exe)| exe)
        .filter(|e| is_absolute(e))
}

/// An absolute path on any of the three systems (`/usr/bin/x`, `C:\Program Files\x.exe`,
/// `\\?\C:\x.exe`): the string may come from another system than the one reading it.
fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/')
        || path.starts_with("\\\\")
        || (b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
}

/// `name (pid) exe` (`name (pid)` when the executable's path could not be read).
fn describe(name: &str, pid: u32, exe: Option<&str>) -> String {
    match exe {
        Some(exe) => format!("{} ({pid}) {exe}", name.trim()),
        None => format!("{} ({pid})", name.trim()),
    }
}

/// The same end of a connection, an IPv4-mapped IPv6 address and its IPv4 one alike (the
/// tables of macOS and Windows may give either for a dual-stack socket).
#[cfg(any(target_os = "macos", windows))]
fn same_end(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// `name (pid) exe` of the local process whose socket is `addr.client` connected to
/// `addr.guard`; `None` when it cannot be told (another user's process, a sandbox, an OS this
/// is not built for).
pub fn process_of(addr: ClientAddr) -> Option<String> {
    #[cfg(target_os = "linux")]
    return linux::process_of(addr);
    #[cfg(target_os = "macos")]
    return macos::process_of(addr);
    #[cfg(windows)]
    return windows::process_of(addr);
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = addr;
        None
    }
}

/// The processes that held the last connections looked up, the latest first.
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod recent {
    static RECENT: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());
    const RECENT_MAX: usize = 8;

    /// The first process that `holds` the socket: the recent ones first, then `everyone`
    /// else; it becomes the most recent.
    pub(crate) fn find(
        everyone: impl Iterator<Item = u32>,
        holds: impl Fn(u32) -> bool,
    ) -> Option<u32> {
        let recent = RECENT.lock().map(|r| r.clone()).unwrap_or_default();
        let pid = recent
            .iter()
            .copied()
            .chain(everyone.filter(|p| !recent.contains(p)))
            .find(|&pid| holds(pid))?;
        if let Ok(mut r) = RECENT.lock() {
            r.retain(|&p| p != pid);
            r.insert(0, pid);
            r.truncate(RECENT_MAX);
        }
        Some(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_read_from_either_systems_form() {
        let linux = "python3 (4242) /usr/bin/python3.11";
        assert_eq!(program(linux), "python3");
        assert_eq!(executable(linux), Some("/usr/bin/python3.11"));
        let windows = r"python.exe (4242) C:\Program Files\Python312\python.exe";
        assert_eq!(program(windows), "python.exe");
        assert_eq!(
            executable(windows),
            Some(r"C:\Program Files\Python312\python.exe")
        );
        assert_eq!(executable("python3 (4242)"), None);
        assert_eq!(executable("python3 (4242) python3"), None, "not a path");
        assert_eq!(
            describe(" node\n", 7, Some("/usr/bin/node")),
            "node (7) /usr/bin/node"
        );
        assert_eq!(describe("node", 7, None), "node (7)");
    }

    /// The macOS lookup on a connection this process makes to itself (Linux and Windows have
    /// their own tests in `linux.rs` and `windows.rs`). Compiled here, run only on a Mac.
    #[cfg(target_os = "macos")]
    #[test]
    fn this_process_is_found_on_its_own_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        let addr = ClientAddr {
            client: client.local_addr().unwrap(),
            guard: listener.local_addr().unwrap(),
        };
        let found = process_of(addr).expect("the socket's process");
        assert!(
            found.contains(&format!(" ({}) ", std::process::id())),
            "{found}"
        );
        let exe = std::env::current_exe().unwrap();
        let path = executable(&found).expect("the executable's path");
        assert!(
            path.eq_ignore_ascii_case(exe.to_str().unwrap()),
            "{path} is not {}",
            exe.display()
        );
        // The guard's end of the same connection is not a client's.
        let reversed = ClientAddr {
            client: addr.guard,
            guard: addr.client,
        };
        assert_eq!(
            process_of(reversed).map(|p| p.contains(&format!(" ({}) ", std::process::id()))),
            Some(true),
            "the accepted socket is this process's too"
        );
        let nobody = ClientAddr {
            client: "127.0.0.1:1".parse().unwrap(),
            guard: addr.guard,
        };
        assert_eq!(process_of(nobody), None);
    }
}
