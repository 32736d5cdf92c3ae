//! Who is on the other end: the client's address as the server may believe
//! it, and the network that login throttling counts it in.

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::config::{Cidr, canonical};

/// The client as this server sees it (login throttling, the session record).
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// From `X-Forwarded-For` only behind a trusted proxy (`TRUSTED_PROXIES`).
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy;
/// then the right-most `X-Forwarded-For` entry that is not a trusted proxy
/// (entries further left were written by the client and prove nothing).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            // Garbage from here on: the last address we could vouch for.
            return client;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:567`, `2001:db8::1` or `[2001:db8::1]:567`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    None
}

/// The network an address is counted in: an IPv4 address itself, an IPv6
/// address's /64 (one subscriber usually holds a whole /64, so counting
/// single IPv6 addresses would count nothing).
pub fn network_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => format!("net:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("net:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let h = headers(&["6.6.6.6, 203.0.113.9", "10.1.1.1"]);
        // From an untrusted peer the header is ignored.
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        // From a proxy: the right-most untrusted entry, not the forged left one.
        assert_eq!(
            client_address(ip("10.0.0.2"), &h, &trusted),
            ip("203.0.113.9")
        );
        // No trusted proxies configured: never believed.
        assert_eq!(client_address(ip("10.0.0.2"), &h, &[]), ip("10.0.0.2"));
        let junk = headers(&["not-an-ip, 10.2.2.2"]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &junk, &trusted),
            ip("10.2.2.2")
        );
        let port = headers(&["[2001:db8::7]:443"]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &port, &trusted),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn ipv6_addresses_are_counted_per_64() {
        assert_eq!(
            network_key(ip("2001:db8:1:2:aaaa::1")),
            network_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            network_key(ip("2001:db8:1:2::1")),
            network_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(network_key(ip("192.0.2.1")), "net:192.0.2.1");
        assert_eq!(network_key(ip("::ffff:192.0.2.1")), "net:192.0.2.1");
    }
}
