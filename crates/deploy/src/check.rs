//! The cheap, periodic form of `doctor` the agent runs every few minutes: is everything that
//! was installed on this machine still in place? Only what the record says was installed is
//! checked (a user who never enabled routing is not "degraded" for lacking it), and the guard's
//! own PAC is compared with the one in the desktop settings (a policy that added destinations
//! makes an older inline PAC stale).

use crate::manifest::{Group, Manifest};
use crate::{Context, Line, State};

/// What has drifted, one reason per line (empty: all in place). `enforce` puts routing back
/// where it drifted (the policy's `deployment.enforce`); the lines then say it was restored.
pub fn drift(ctx: &Context, enforce: bool) -> Vec<String> {
    let manifest = match Manifest::load(ctx) {
        Ok(m) => m,
        Err(e) => return vec![e.to_string()],
    };
    let mut reasons = Vec::new();
    if manifest.of(Group::Trust).next().is_some() {
        let installed_targets = installed_trust_targets(&manifest);
        let opts = crate::trust::Options {
            targets: installed_targets,
            java_keystore: None,
        };
        match crate::trust::status(ctx, &opts) {
            Ok(lines) => reasons.extend(bad("trust", &lines)),
            Err(e) => reasons.push(format!("trust: {e}")),
        }
    }
    if manifest.of(Group::Routing).next().is_some() {
        // Browser policies count only where they were installed (they need an administrator;
        // `doctor` reports them everywhere).
        let policies = manifest.of(Group::Routing).any(|e| {
            matches!(&e.step, crate::Step::File { path, .. } if path.components().any(|c| c.as_os_str() == "policies"))
        });
        let routing = |lines: Vec<Line>| -> Vec<Line> {
            lines
                .into_iter()
                .filter(|l| policies || !l.what.ends_with(" policy"))
                .collect()
        };
        let lines = routing(crate::routing::status(ctx));
        let bad_lines = bad("routing", &lines);
        if !bad_lines.is_empty() && enforce {
            let env_only = !manifest.of(Group::Routing).any(|e| {
                matches!(
                    &e.step,
                    crate::Step::Gsettings { .. }
                        | crate::Step::Ini { .. }
                        | crate::Step::Command { .. }
                        | crate::Step::Registry { .. }
                )
            });
            let opts = crate::routing::Options {
                browsers: false,
                env_only,
                pac: None,
            };
            match crate::routing::enable(ctx, &opts) {
                Ok(_) => reasons.extend(bad("routing", &routing(crate::routing::status(ctx)))),
                Err(e) => reasons.push(format!("routing could not be put back: {e}")),
            }
        } else {
            reasons.extend(bad_lines);
        }
    }
    reasons
}

/// A cheap fingerprint of the network configuration, read every few seconds: when it changes
/// (a VPN, another Wi-Fi, a dock), the agent checks at once instead of waiting for its timer.
/// Linux: `/proc/net/route`, `/proc/net/ipv6_route`, `/etc/resolv.conf` under the context's
/// root. macOS: the interfaces and their addresses (`getifaddrs`, where a VPN's `utun` or a new
/// network's address shows) and `/etc/resolv.conf` (configd rewrites it with the resolvers in
/// use). Windows: the IPv4 routes and addresses (`GetIpForwardTable`, `GetIpAddrTable`).
pub fn network_stamp(ctx: &Context) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    #[cfg(target_os = "linux")]
    for f in [
        "/proc/net/route",
        "/proc/net/ipv6_route",
        "/etc/resolv.conf",
    ] {
        std::fs::read(ctx.sys(f)).unwrap_or_default().hash(&mut h);
    }
    #[cfg(target_os = "macos")]
    {
        if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
            for a in addrs {
                a.interface_name.hash(&mut h);
                a.flags.bits().hash(&mut h);
                a.address.map(|x| x.to_string()).hash(&mut h);
                a.netmask.map(|x| x.to_string()).hash(&mut h);
            }
        }
        std::fs::read(ctx.sys("/etc/resolv.conf"))
            .unwrap_or_default()
            .hash(&mut h);
    }
    #[cfg(windows)]
    {
        let _ = ctx;
        win_net::routes_and_addresses().hash(&mut h);
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    let _ = ctx;
    h.finish()
}

/// Windows' IPv4 routes and addresses, as plain numbers.
#[cfg(windows)]
mod win_net {
    use leakguard_peer::ip_helper::{rows, table};
    use windows_sys::Win32::NetworkManagement::IpHelper::{
        GetIpAddrTable, GetIpForwardTable, MIB_IPADDRROW_XP, MIB_IPADDRTABLE, MIB_IPFORWARDROW,
        MIB_IPFORWARDTABLE,
    };

    /// Each route's destination, mask, next hop, interface and metric (not its age, which
    /// changes by itself), then each address with its interface and mask.
    pub(super) fn routes_and_addresses() -> Vec<[u32; 5]> {
        // SAFETY (both calls): `buf` is writable for `*size` bytes (`table`'s contract); the
        // call writes at most that and tells the size it needs otherwise.
        #[allow(unsafe_code)]
        let routes = table(|buf, size| unsafe { GetIpForwardTable(buf.cast(), size, 1) })
            .and_then(|b| {
                rows::<MIB_IPFORWARDROW>(&b, std::mem::offset_of!(MIB_IPFORWARDTABLE, table))
            })
            .unwrap_or_default();
        #[allow(unsafe_code)]
        let addrs = table(|buf, size| unsafe { GetIpAddrTable(buf.cast(), size, 1) })
            .and_then(|b| {
                rows::<MIB_IPADDRROW_XP>(&b, std::mem::offset_of!(MIB_IPADDRTABLE, table))
            })
            .unwrap_or_default();
        let routes = routes.into_iter().map(|r| {
            [
                r.dwForwardDest,
                r.dwForwardMask,
                r.dwForwardNextHop,
                r.dwForwardIfIndex,
                r.dwForwardMetric1,
            ]
        });
        let addrs = addrs
            .into_iter()
            .map(|r| [r.dwAddr, r.dwIndex, r.dwMask, 0, 0]);
        routes.chain(addrs).collect()
    }

    /// Run under Wine by `scripts/cross-check.sh`: the tables are read and their rows hold
    /// real values (the loopback address, a route to the loopback network or a default one).
    #[cfg(test)]
    mod tests {
        #[test]
        fn the_routes_and_addresses_are_read() {
            let rows = super::routes_and_addresses();
            let loopback = u32::from_ne_bytes([127, 0, 0, 1]);
            assert!(
                rows.iter()
                    .any(|r| r[0] == loopback && r[3] == 0 && r[4] == 0),
                "the loopback address among {rows:?}"
            );
            assert!(
                rows.iter().any(|r| r[3] != 0 || r[4] != 0),
                "at least one route among {rows:?}"
            );
            assert_eq!(
                rows,
                super::routes_and_addresses(),
                "the same when nothing moved"
            );
        }
    }
}

/// After the guard replaced its CA: the new CA put wherever the record says the device CA was
/// trusted, as far as this process may (the system store needs an administrator: its line then
/// says which command to run). Empty when nothing was ever installed.
pub fn retrust(ctx: &Context) -> Vec<Line> {
    let manifest = match Manifest::load(ctx) {
        Ok(m) => m,
        Err(e) => return vec![Line::new("trust", State::Failed, e.to_string())],
    };
    let installed = installed_trust_targets(&manifest);
    let system = crate::trust::Target::System;
    let targets: Vec<_> = installed
        .iter()
        .copied()
        .filter(|t| *t != system || ctx.admin())
        .collect();
    let mut lines = Vec::new();
    if installed.contains(&system) && !ctx.admin() {
        lines.push(Line::new(
            "system",
            State::Missing,
            "the system store still trusts the previous CA: run `sudo leakguard trust install --system`",
        ));
    }
    if targets.is_empty() {
        return lines;
    }
    // The keystore the earlier install used (under a throw-away root it must be named).
    let java_keystore = manifest.of(Group::Trust).find_map(|e| match &e.step {
        crate::Step::Keystore {
            keystore, alias, ..
        } if alias == crate::CA_NAME => Some(keystore.clone()),
        _ => None,
    });
    let opts = crate::trust::Options {
        targets,
        java_keystore,
    };
    match crate::trust::install(ctx, &opts) {
        Ok(done) => lines.extend(done),
        Err(e) => lines.push(Line::new("trust", State::Failed, e.to_string())),
    }
    lines
}

fn installed_trust_targets(m: &Manifest) -> Vec<crate::trust::Target> {
    use crate::trust::Target;
    use crate::Step;
    let mut t = Vec::new();
    for e in m.of(Group::Trust) {
        let target = match &e.step {
            Step::Anchor { .. } | Step::Keychain { .. } | Step::WinStore { .. } => Target::System,
            Step::Nss { .. } => Target::Nss,
            Step::Keystore { alias, .. } if alias == crate::CA_NAME => Target::Java,
            // Debian's hook copy of the system anchor.
            Step::Keystore { .. } => Target::System,
            _ => Target::Runtimes,
        };
        if !t.contains(&target) {
            t.push(target);
        }
    }
    t
}

fn bad(prefix: &str, lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| matches!(l.state, State::Missing | State::Failed))
        .map(|l| format!("{prefix}: {}: {}", l.what, l.detail))
        .collect()
}
