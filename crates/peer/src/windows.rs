//! Windows: the TCP connection table with each connection's owning process
//! (`GetExtendedTcpTable`, what `netstat -ano` shows), then that process's executable
//! (`QueryFullProcessImageNameW`; a process of another user or a protected one gives only
//! its pid).

use crate::{describe, ip_helper, same_end, ClientAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use windows_sys::Win32::Foundation::CloseHandle;
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, MIB_TCP6ROW_OWNER_PID, MIB_TCP6TABLE_OWNER_PID, MIB_TCPROW_OWNER_PID,
    MIB_TCPTABLE_OWNER_PID, TCP_TABLE_OWNER_PID_CONNECTIONS,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};
use windows_sys::Win32::System::Threading::{
    OpenProcess, QueryFullProcessImageNameW, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION,
};

pub(crate) fn process_of(addr: ClientAddr) -> Option<String> {
    let pid = match (addr.client, addr.guard) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) => owner_v4(addr)?,
        _ => owner_v6(addr)?,
    };
    let exe = image_path(pid);
    let name = exe
        .as_deref()
        .and_then(|p| p.rsplit('\\').next())
        .unwrap_or("?")
        .to_string();
    Some(describe(&name, pid, exe.as_deref()))
}

/// A port as the table keeps it: network byte order in the low 16 bits.
fn port(p: u32) -> u16 {
    u16::from_be(p as u16)
}

fn owner_v4(addr: ClientAddr) -> Option<u32> {
    let buf = table(u32::from(AF_INET))?;
    let rows = ip_helper::rows::<MIB_TCPROW_OWNER_PID>(
        &buf,
        std::mem::offset_of!(MIB_TCPTABLE_OWNER_PID, table),
    )?;
    rows.into_iter().find_map(|r| {
        let local = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(r.dwLocalAddr.to_ne_bytes())),
            port(r.dwLocalPort),
        );
        let remote = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(r.dwRemoteAddr.to_ne_bytes())),
            port(r.dwRemotePort),
        );
        (local == addr.client && remote == addr.guard).then_some(r.dwOwningPid)
    })
}

fn owner_v6(addr: ClientAddr) -> Option<u32> {
    let buf = table(u32::from(AF_INET6))?;
    let rows = ip_helper::rows::<MIB_TCP6ROW_OWNER_PID>(
        &buf,
        std::mem::offset_of!(MIB_TCP6TABLE_OWNER_PID, table),
    )?;
    rows.into_iter().find_map(|r| {
        let local = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from(r.ucLocalAddr)),
            port(r.dwLocalPort),
        );
        let remote = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from(r.ucRemoteAddr)),
            port(r.dwRemotePort),
        );
        (same_end(local, addr.client) && same_end(remote, addr.guard)).then_some(r.dwOwningPid)
    })
}

/// The connection table of one address family.
fn table(family: u32) -> Option<Vec<u64>> {
    ip_helper::table(|buf, size| {
        // SAFETY: `buf` is writable for `*size` bytes (`ip_helper::table`'s contract); the
        // call writes at most that and tells the size it needs otherwise.
        #[allow(unsafe_code)]
        unsafe {
            GetExtendedTcpTable(buf, size, 0, family, TCP_TABLE_OWNER_PID_CONNECTIONS, 0)
        }
    })
}

/// The full path of process `pid`'s executable, where this user may ask.
fn image_path(pid: u32) -> Option<String> {
    // SAFETY: plain Win32 calls; the handle is closed on every path, the buffer is writable
    // for `len` UTF-16 units and `len` is updated to what was written.
    #[allow(unsafe_code)]
    unsafe {
        let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if h.is_null() {
            return None;
        }
        let mut buf = vec![0u16; 32768];
        let mut len = buf.len() as u32;
        let ok = QueryFullProcessImageNameW(h, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len);
        CloseHandle(h);
        (ok != 0).then(|| String::from_utf16_lossy(&buf[..len as usize]))
    }
}

/// Run under Wine by `scripts/cross-check.sh` (Debian 12's Wine 8 reports 0 as every
/// connection's owning process, a known Wine fault fixed in later versions, so the pid itself is
/// checked only against a real Windows; the table, its rows' addresses and ports, and the
/// executable's path are checked here).
#[cfg(test)]
mod tests {
    use super::*;

    fn pair(
        listen: &str,
    ) -> (
        std::net::TcpListener,
        std::net::TcpStream,
        std::net::TcpStream,
    ) {
        let listener = std::net::TcpListener::bind(listen).unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        (listener, client, accepted)
    }

    #[test]
    fn a_connection_is_found_in_the_table_by_its_two_ends() {
        for listen in ["127.0.0.1:0", "[::1]:0"] {
            let (listener, client, _accepted) = pair(listen);
            let addr = ClientAddr {
                client: client.local_addr().unwrap(),
                guard: listener.local_addr().unwrap(),
            };
            let owner = |a: ClientAddr| match a.client {
                SocketAddr::V4(_) => owner_v4(a),
                SocketAddr::V6(_) => owner_v6(a),
            };
            assert!(owner(addr).is_some(), "{listen}: the client's row");
            // The accepted end is a row of its own, the two ends swapped.
            let swapped = ClientAddr {
                client: addr.guard,
                guard: addr.client,
            };
            assert!(owner(swapped).is_some(), "{listen}: the accepted row");
            // One port off on either end: no row.
            let mut other = addr;
            other.client.set_port(addr.client.port().wrapping_add(1));
            assert_eq!(owner(other), None, "{listen}: another client port");
            let mut other = addr;
            other.guard.set_port(addr.guard.port().wrapping_add(1));
            assert_eq!(owner(other), None, "{listen}: another guard port");
        }
    }

    #[test]
    fn a_process_executable_is_its_full_path() {
        let exe = std::env::current_exe().unwrap();
        let path = image_path(std::process::id()).expect("this process's image");
        assert!(
            path.eq_ignore_ascii_case(exe.to_str().unwrap()),
            "{path} is not {}",
            exe.display()
        );
        let described = describe(
            path.rsplit('\\').next().unwrap(),
            std::process::id(),
            Some(&path),
        );
        assert_eq!(crate::executable(&described), Some(path.as_str()));
        assert_eq!(image_path(u32::MAX - 3), None, "no such process");
    }
}
