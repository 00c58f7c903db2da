//! macOS: the process whose TCP socket has the connection's two addresses, found through
//! libproc as `lsof -i` finds it (only the user's own processes are readable, which is where
//! a client of a per-user guard runs).

use crate::{describe, recent, same_end, ClientAddr};
use libproc::libproc::bsd_info::BSDInfo;
use libproc::libproc::file_info::{pidfdinfo, ListFDs, ProcFDType};
use libproc::libproc::net_info::{InSIAddr, SocketFDInfo, SocketInfoKind};
use libproc::libproc::proc_pid::{listpidinfo, name, pidinfo, pidpath};
use libproc::processes::{pids_by_type, ProcFilter};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `insi_vflag` bits (`<netinet/in_pcb.h>`).
const INI_IPV4: u8 = 0x1;
const INI_IPV6: u8 = 0x2;

pub(crate) fn process_of(addr: ClientAddr) -> Option<String> {
    let everyone = pids_by_type(ProcFilter::All).ok()?;
    let pid = recent::find(everyone.into_iter().filter(|&p| p != 0), |pid| {
        holds(pid, addr)
    })?;
    let pid_i = i32::try_from(pid).ok()?;
    let comm = name(pid_i).unwrap_or_default();
    let exe = pidpath(pid_i).ok();
    Some(describe(&comm, pid, exe.as_deref()))
}

/// Whether process `pid` has a TCP socket from `addr.client` to `addr.guard`.
fn holds(pid: u32, addr: ClientAddr) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // How many descriptors to ask for: the process's own count (other users' processes
    // refuse, and are not it).
    let Ok(info) = pidinfo::<BSDInfo>(pid, 0) else {
        return false;
    };
    let Ok(fds) = listpidinfo::<ListFDs>(pid, info.pbi_nfiles as usize) else {
        return false;
    };
    fds.iter()
        .filter(|fd| matches!(ProcFDType::from(fd.proc_fdtype), ProcFDType::Socket))
        .any(|fd| {
            pidfdinfo::<SocketFDInfo>(pid, fd.proc_fd)
                .ok()
                .and_then(|s| tcp_ends(&s))
                .is_some_and(|(local, remote)| {
                    same_end(local, addr.client) && same_end(remote, addr.guard)
                })
        })
}

/// A TCP socket's (local, remote) addresses.
fn tcp_ends(s: &SocketFDInfo) -> Option<(SocketAddr, SocketAddr)> {
    if !matches!(SocketInfoKind::from(s.psi.soi_kind), SocketInfoKind::Tcp) {
        return None;
    }
    // SAFETY: `soi_kind` says the kernel filled the union's TCP member.
    #[allow(unsafe_code)]
    let ini = unsafe { s.psi.soi_proto.pri_tcp.tcpsi_ini };
    // IPv4 first, as lsof reads it: a dual-stack socket on an IPv4 connection has both bits.
    let v4 = ini.insi_vflag & INI_IPV4 != 0;
    if !v4 && ini.insi_vflag & INI_IPV6 == 0 {
        return None;
    }
    // Ports are kept in network byte order in the low 16 bits.
    let port = |p: i32| u16::from_be(p as u16);
    let ip = |a: &InSIAddr| -> IpAddr {
        // SAFETY: `insi_vflag` says which member holds the address; both are plain bytes.
        #[allow(unsafe_code)]
        unsafe {
            if v4 {
                IpAddr::V4(Ipv4Addr::from(u32::from_be(a.ina_46.i46a_addr4.s_addr)))
            } else {
                IpAddr::V6(Ipv6Addr::from(a.ina_6.s6_addr)).to_canonical()
            }
        }
    };
    Some((
        SocketAddr::new(ip(&ini.insi_laddr), port(ini.insi_lport)),
        SocketAddr::new(ip(&ini.insi_faddr), port(ini.insi_fport)),
    ))
}
