//! Client IP resolution. Forwarding headers count only when the TCP peer is a
//! configured trusted proxy; IPv6 clients are keyed by their /64 (configurable)
//! so one host cannot dodge rate limits by rotating addresses.

use std::net::{IpAddr, Ipv6Addr};

use crate::config::IpConfig;

#[derive(Debug, Clone, Copy)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse().ok()?, p.parse().ok()?),
            None => {
                let a: IpAddr = s.parse().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        Some(Cidr { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let bits = self.prefix.min(32) as u32;
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let bits = self.prefix.min(128) as u32;
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    headers: Vec<String>,
    trusted: Vec<Cidr>,
    ipv6_subnet: u8,
}

impl ClientIpResolver {
    pub fn new(cfg: &IpConfig) -> Result<Self, String> {
        let trusted = cfg
            .trusted_proxies
            .iter()
            .map(|s| Cidr::parse(s).ok_or_else(|| format!("invalid trusted proxy {s:?}")))
            .collect::<Result<_, _>>()?;
        Ok(ClientIpResolver {
            headers: cfg.headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            trusted,
            ipv6_subnet: cfg.ipv6_subnet.min(128),
        })
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|c| c.contains(ip))
    }

    /// The client address: the peer, unless the peer is a trusted proxy and
    /// a configured header names an address; chains are walked right to left
    /// past trusted hops.
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &poem::http::HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(canonical);
        let peer_ip = peer?;
        if self.headers.is_empty() || !self.is_trusted(peer_ip) {
            return Some(peer_ip);
        }
        for name in &self.headers {
            let Some(value) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            let hops: Vec<&str> = value.split(',').map(str::trim).collect();
            for hop in hops.iter().rev() {
                let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
                    // A malformed hop ends the walk: trust nothing beyond it.
                    return Some(peer_ip);
                };
                if !self.is_trusted(ip) {
                    return Some(ip);
                }
            }
        }
        Some(peer_ip)
    }

    /// The rate-limit key for an address: IPv4 as is, IPv6 masked to the subnet.
    pub fn key(&self, ip: IpAddr) -> String {
        match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let bits = self.ipv6_subnet as u32;
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                format!("{}/{}", Ipv6Addr::from(u128::from(v6) & mask), bits)
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses become IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderMap;

    fn resolver(trusted: &[&str]) -> ClientIpResolver {
        ClientIpResolver::new(&IpConfig {
            headers: vec!["X-Forwarded-For".into()],
            trusted_proxies: trusted.iter().map(|s| s.to_string()).collect(),
            ipv6_subnet: 64,
        })
        .unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn header_ignored_from_untrusted_peer() {
        let r = resolver(&["10.0.0.0/8"]);
        let got = r.resolve(Some("203.0.113.9".parse().unwrap()), &xff("1.2.3.4"));
        assert_eq!(got, Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn chain_walked_past_trusted_hops() {
        let r = resolver(&["10.0.0.0/8"]);
        let got = r.resolve(
            Some("10.0.0.1".parse().unwrap()),
            &xff("6.6.6.6, 1.2.3.4, 10.0.0.2"),
        );
        assert_eq!(got, Some("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn ipv6_keyed_by_64() {
        let r = resolver(&[]);
        let a = r.key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = r.key("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, r.key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            r.key("::ffff:1.2.3.4".parse::<IpAddr>().map(canonical).unwrap()),
            "1.2.3.4"
        );
    }
}
