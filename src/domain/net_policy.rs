//! Which destinations may be dialled. Without it anyone holding the token can make this server call its own
//! network (databases, admin panels, the cloud metadata service) and read the answer back through a failure
//! callback or the DLQ. The same `DestinationPolicy` judges a URL when it is accepted and every address the
//! delivery client is about to connect to, after DNS resolution.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The setting that lifts a refusal; every refusal names it.
pub const ALLOW_SETTING: &str = "--allow-destinations / POSTDATE_ALLOW_DESTINATIONS";

/// Why an address is not a public destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Loopback,
    Private,
    SharedAddressSpace,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Broadcast,
    Unspecified,
    ThisNetwork,
    Documentation,
    Benchmark,
    Reserved,
    Metadata,
}

impl Range {
    pub fn describe(self) -> &'static str {
        match self {
            Range::Loopback => "loopback",
            Range::Private => "private range",
            Range::SharedAddressSpace => "carrier-grade NAT range",
            Range::LinkLocal => "link-local",
            Range::UniqueLocal => "unique-local range",
            Range::Multicast => "multicast",
            Range::Broadcast => "broadcast",
            Range::Unspecified => "unspecified address",
            Range::ThisNetwork => "\"this network\" range",
            Range::Documentation => "documentation range",
            Range::Benchmark => "benchmarking range",
            Range::Reserved => "reserved range",
            Range::Metadata => "cloud metadata service",
        }
    }

    /// What `dev` allows by default: the machine itself and private networks, never metadata services.
    fn is_local_development(self) -> bool {
        matches!(self, Range::Loopback | Range::Private | Range::UniqueLocal)
    }
}

const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, DigitalOcean, …
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata and credentials
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)]; // AWS over IPv6
const METADATA_NAMES: [&str; 5] = [
    "metadata.google.internal",
    "metadata",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// The range a non-public address belongs to, or `None` for an ordinary public address.
pub fn classify(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Range> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        _ if METADATA_V4.contains(&ip) => Range::Metadata,
        _ if ip.is_unspecified() => Range::Unspecified,
        _ if ip.is_broadcast() => Range::Broadcast,
        (0, _, _) => Range::ThisNetwork,
        (10, _, _) => Range::Private,
        (100, 64..=127, _) => Range::SharedAddressSpace,
        (127, _, _) => Range::Loopback,
        (169, 254, _) => Range::LinkLocal,
        (172, 16..=31, _) => Range::Private,
        (192, 0, 0) => Range::Reserved, // IETF protocol assignments
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Range::Documentation,
        (192, 88, 99) => Range::Reserved, // former 6to4 relay anycast
        (192, 168, _) => Range::Private,
        (198, 18..=19, _) => Range::Benchmark,
        (224..=239, _, _) => Range::Multicast,
        (240..=255, _, _) => Range::Reserved,
        _ => return None,
    };
    Some(range)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Range> {
    if METADATA_V6.contains(&ip) {
        return Some(Range::Metadata);
    }
    if ip.is_unspecified() {
        return Some(Range::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Range::Loopback);
    }
    // An IPv4 address carried inside IPv6 reaches that IPv4 host, so it is judged as one.
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let range = match s {
        [0xfe80..=0xfebf, ..] => Range::LinkLocal,
        [0xfec0..=0xfeff, ..] => Range::Private, // deprecated site-local
        [0xfc00..=0xfdff, ..] => Range::UniqueLocal,
        [0xff00..=0xffff, ..] => Range::Multicast,
        [0x2001, 0x0db8, ..] => Range::Documentation,
        [0x3fff, 0x0000..=0x0fff, ..] => Range::Documentation,
        [0x2001, 0x0002, 0, ..] => Range::Benchmark,
        [0x2001, 0x0000, ..] => Range::Reserved, // Teredo: the IPv4 inside is obfuscated
        [0x2001, 0x0010..=0x002f, ..] => Range::Reserved, // ORCHID
        [0x0064, 0xff9b, 0x0001, ..] => Range::Private, // local-use NAT64
        // Only 2000::/3 is global unicast; everything else (discard-only 100::/64, unassigned space) is not.
        [0x2000..=0x3fff, ..] => return None,
        _ => Range::Reserved,
    };
    Some(range)
}

/// The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
/// (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low()),
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(low()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// A network in CIDR notation, e.g. `10.1.0.0/16`; a bare address is a single-address network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = addr.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Why a destination is refused. Its text names the address or name and the setting that allows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("destination address {ip} is not allowed ({}); allow it with {ALLOW_SETTING}", range.describe())]
    Address { ip: IpAddr, range: Range },
    #[error("destination host {name} is not allowed ({}); allow it with {ALLOW_SETTING}", range.describe())]
    Name { name: String, range: Range },
    #[error(
        "destination host {name} resolves to {ip}, which is not allowed ({}); allow it with {ALLOW_SETTING}",
        range.describe()
    )]
    Resolved { name: String, ip: IpAddr, range: Range },
}

/// Forbidden ranges and names, minus what the operator allowed. Built once from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// `dev`: loopback and private ranges are allowed (metadata addresses inside them are not).
    allow_local_development: bool,
    allowed_networks: Vec<Cidr>,
    /// Lower case, without a trailing dot.
    allowed_hosts: Vec<String>,
}

impl DestinationPolicy {
    /// `serve`: public destinations only.
    pub fn strict() -> DestinationPolicy {
        DestinationPolicy::default()
    }

    /// `dev`: loopback and private ranges too.
    pub fn local_development() -> DestinationPolicy {
        DestinationPolicy {
            allow_local_development: true,
            ..DestinationPolicy::default()
        }
    }

    /// Adds allow-list entries: CIDRs, single addresses or host names (`127.0.0.0/8,10.1.0.0/16,internal.example`).
    pub fn allowing<S: AsRef<str>>(mut self, entries: &[S]) -> Result<DestinationPolicy, String> {
        for entry in entries.iter().map(|e| e.as_ref().trim()).filter(|e| !e.is_empty()) {
            if let Some(cidr) = Cidr::parse(entry) {
                self.allowed_networks.push(cidr);
            } else if is_host_name(entry) {
                self.allowed_hosts.push(normalize_name(entry).to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{entry:?} is neither a CIDR (10.1.0.0/16), an address nor a host name"
                ));
            }
        }
        Ok(self)
    }

    /// Judges one address about to be dialled (or written literally in a URL).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match self.forbidden(ip) {
            Some(range) => Err(Refusal::Address { ip, range }),
            None => Ok(()),
        }
    }

    /// Judges a host name before it is resolved: metadata names and `localhost` are refused outright.
    pub fn check_name(&self, name: &str) -> Result<(), Refusal> {
        if self.host_is_allowed(name) {
            return Ok(());
        }
        let bare = normalize_name(name);
        let range = if METADATA_NAMES.iter().any(|m| m.eq_ignore_ascii_case(bare)) {
            Range::Metadata
        } else if is_localhost(bare) {
            let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
            if loopback.iter().any(|ip| self.forbidden(*ip).is_none()) {
                return Ok(());
            }
            Range::Loopback
        } else {
            return Ok(());
        };
        Err(Refusal::Name {
            name: bare.to_string(),
            range,
        })
    }

    /// Judges what a name resolved to: refused if any address is forbidden, unless the name is allowed.
    pub fn check_resolved(&self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Result<(), Refusal> {
        if self.host_is_allowed(name) {
            return Ok(());
        }
        for ip in addrs {
            if let Some(range) = self.forbidden(ip) {
                return Err(Refusal::Resolved {
                    name: normalize_name(name).to_string(),
                    ip,
                    range,
                });
            }
        }
        Ok(())
    }

    /// Judges a URL's host: an address literal is exactly what will be dialled; a name is checked again,
    /// with its addresses, when it is resolved.
    pub fn check_host(&self, host: url::Host<&str>) -> Result<(), Refusal> {
        match host {
            url::Host::Ipv4(ip) => self.check_ip(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => self.check_ip(IpAddr::V6(ip)),
            url::Host::Domain(name) => self.check_name(name),
        }
    }

    pub fn host_is_allowed(&self, name: &str) -> bool {
        let bare = normalize_name(name);
        self.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(bare))
    }

    fn forbidden(&self, ip: IpAddr) -> Option<Range> {
        let range = classify(ip)?;
        // `::ffff:10.0.0.1` is allowed by `10.0.0.0/8`: the mapped form reaches the same host.
        let canonical = ip.to_canonical();
        if self
            .allowed_networks
            .iter()
            .any(|n| n.contains(ip) || n.contains(canonical))
        {
            return None;
        }
        if self.allow_local_development && range.is_local_development() {
            return None;
        }
        Some(range)
    }
}

/// `metadata.google.internal.` and `[…]` are the same host as without the dot and brackets.
fn normalize_name(name: &str) -> &str {
    name.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.')
}

fn is_localhost(name: &str) -> bool {
    let lower = |s: &str| s.eq_ignore_ascii_case("localhost");
    lower(name) || name.rsplit_once('.').is_some_and(|(_, tld)| lower(tld))
}

fn is_host_name(text: &str) -> bool {
    let bare = text.trim_end_matches('.');
    !bare.is_empty()
        && bare.len() <= 253
        && bare
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn range(text: &str) -> Option<Range> {
        classify(ip(text))
    }

    /// How the URL parser (which the delivery client uses too) reads the host of `http://{host}/`.
    fn url_host(host: &str) -> IpAddr {
        match url::Url::parse(&format!("http://{host}/")).unwrap().host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            other => panic!("{host} is not an address: {other:?}"),
        }
    }

    #[test]
    fn classifies_ipv4_ranges() {
        let cases = [
            ("127.0.0.1", Some(Range::Loopback)),
            ("127.255.255.254", Some(Range::Loopback)),
            ("10.0.0.1", Some(Range::Private)),
            ("172.16.0.1", Some(Range::Private)),
            ("172.31.255.255", Some(Range::Private)),
            ("192.168.1.1", Some(Range::Private)),
            ("100.64.0.1", Some(Range::SharedAddressSpace)),
            ("100.127.255.255", Some(Range::SharedAddressSpace)),
            ("169.254.1.1", Some(Range::LinkLocal)),
            ("169.254.169.254", Some(Range::Metadata)),
            ("169.254.170.2", Some(Range::Metadata)),
            ("100.100.100.200", Some(Range::Metadata)),
            ("224.0.0.1", Some(Range::Multicast)),
            ("255.255.255.255", Some(Range::Broadcast)),
            ("0.0.0.0", Some(Range::Unspecified)),
            ("0.1.2.3", Some(Range::ThisNetwork)),
            ("192.0.2.1", Some(Range::Documentation)),
            ("198.51.100.1", Some(Range::Documentation)),
            ("203.0.113.1", Some(Range::Documentation)),
            ("198.18.0.1", Some(Range::Benchmark)),
            ("240.0.0.1", Some(Range::Reserved)),
            ("192.0.0.8", Some(Range::Reserved)),
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("93.184.216.34", None),
        ];
        for (text, expected) in cases {
            assert_eq!(range(text), expected, "{text}");
        }
    }

    #[test]
    fn classifies_ipv6_ranges() {
        let cases = [
            ("::1", Some(Range::Loopback)),
            ("::", Some(Range::Unspecified)),
            ("fe80::1", Some(Range::LinkLocal)),
            ("fc00::1", Some(Range::UniqueLocal)),
            ("fd12:3456::1", Some(Range::UniqueLocal)),
            ("fd00:ec2::254", Some(Range::Metadata)),
            ("ff02::1", Some(Range::Multicast)),
            ("2001:db8::1", Some(Range::Documentation)),
            ("2001::1", Some(Range::Reserved)),
            ("100::1", Some(Range::Reserved)),
            ("64:ff9b:1::1", Some(Range::Private)),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::200e", None),
        ];
        for (text, expected) in cases {
            assert_eq!(range(text), expected, "{text}");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_as_ipv4() {
        let cases = [
            ("::ffff:127.0.0.1", Some(Range::Loopback)),
            ("::ffff:169.254.169.254", Some(Range::Metadata)),
            ("::ffff:10.0.0.1", Some(Range::Private)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Range::Loopback)),
            ("::10.0.0.1", Some(Range::Private)),
            ("64:ff9b::127.0.0.1", Some(Range::Loopback)),
            ("64:ff9b::169.254.169.254", Some(Range::Metadata)),
            ("64:ff9b::8.8.8.8", None),
            ("2002:7f00:1::", Some(Range::Loopback)),
            ("2002:a9fe:a9fe::1", Some(Range::Metadata)),
            ("2002:0a00:0001::", Some(Range::Private)),
            ("2002:0808:0808::", None),
        ];
        for (text, expected) in cases {
            assert_eq!(range(text), expected, "{text}");
        }
    }

    #[test]
    fn odd_ipv4_notations_are_read_as_the_address_they_reach() {
        for host in ["2130706433", "0x7f000001", "127.1", "0177.0.0.1", "127.0.1"] {
            let ip = url_host(host);
            assert_eq!(ip, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), "{host}");
            assert_eq!(classify(ip), Some(Range::Loopback), "{host}");
        }
        assert_eq!(classify(url_host("[::ffff:127.0.0.1]")), Some(Range::Loopback));
        assert_eq!(classify(url_host("0xa9fea9fe")), Some(Range::Metadata));
    }

    #[test]
    fn strict_policy_refuses_and_names_the_setting() {
        let policy = DestinationPolicy::strict();
        let refusal = policy.check_ip(ip("10.0.0.1")).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "destination address 10.0.0.1 is not allowed (private range); allow it with \
             --allow-destinations / POSTDATE_ALLOW_DESTINATIONS"
        );
        assert!(policy.check_ip(ip("8.8.8.8")).is_ok());
        for name in [
            "metadata.google.internal",
            "METADATA.google.internal.",
            "metadata",
            "localhost",
            "a.localhost",
        ] {
            assert!(policy.check_name(name).is_err(), "{name}");
        }
        assert!(policy.check_name("example.com").is_ok());
        let resolved = policy
            .check_resolved("ok.example", [ip("8.8.8.8"), ip("10.0.0.1")])
            .unwrap_err();
        assert!(
            resolved
                .to_string()
                .starts_with("destination host ok.example resolves to 10.0.0.1"),
            "any forbidden address refuses the name: {resolved}"
        );
        assert!(policy.check_resolved("ok.example", [ip("8.8.8.8")]).is_ok());
    }

    #[test]
    fn the_allow_list_lifts_refusals() {
        let policy = DestinationPolicy::strict()
            .allowing(&["127.0.0.0/8", "10.1.0.0/16", "Internal.Example.", "::1"])
            .unwrap();
        assert!(policy.check_ip(ip("127.0.0.2")).is_ok());
        assert!(policy.check_ip(ip("::ffff:127.0.0.1")).is_ok(), "the mapped form too");
        assert!(policy.check_ip(ip("::1")).is_ok());
        assert!(policy.check_ip(ip("10.1.200.3")).is_ok());
        assert!(policy.check_ip(ip("10.2.0.1")).is_err());
        assert!(policy.check_name("localhost").is_ok(), "loopback is allowed");
        assert!(policy.check_name("internal.example").is_ok());
        assert!(policy.check_resolved("internal.example.", [ip("10.9.9.9")]).is_ok());
        assert!(policy.check_ip(ip("169.254.169.254")).is_err());
        for bad in ["10.0.0.0/33", "not a host", "::1/129", "a..b"] {
            assert!(DestinationPolicy::strict().allowing(&[bad]).is_err(), "{bad}");
        }
        let metadata = DestinationPolicy::strict()
            .allowing(&["169.254.169.254", "metadata.google.internal"])
            .unwrap();
        assert!(metadata.check_ip(ip("169.254.169.254")).is_ok(), "listed explicitly");
        assert!(metadata.check_name("metadata.google.internal").is_ok());
    }

    #[test]
    fn local_development_allows_loopback_and_private_but_never_metadata() {
        let dev = DestinationPolicy::local_development();
        for allowed in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "192.168.0.10",
            "fd12::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(dev.check_ip(ip(allowed)).is_ok(), "{allowed}");
        }
        for refused in [
            "169.254.169.254",
            "fd00:ec2::254",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            assert!(dev.check_ip(ip(refused)).is_err(), "{refused}");
        }
        assert!(dev.check_name("localhost").is_ok());
        assert!(dev.check_name("metadata.google.internal").is_err());
    }

    #[test]
    fn cidrs_match_their_networks() {
        let net = Cidr::parse("172.16.0.0/12").unwrap();
        assert!(net.contains(ip("172.31.1.1")));
        assert!(!net.contains(ip("172.32.0.0")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("fc00::/7").unwrap().contains(ip("fdff::1")));
        assert!(!Cidr::parse("fc00::/7").unwrap().contains(ip("fe00::1")));
        assert!(Cidr::parse("[::1]").unwrap().contains(ip("::1")));
    }
}
