//! The delivery client's DNS resolver: every name is resolved here and every address it resolves to is
//! judged by the destination policy before hyper connects to it. The addresses checked are the addresses
//! dialled, so a name that answers differently the second time (DNS rebinding) gains nothing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::net_policy::DestinationPolicy;

pub struct PolicyResolver {
    policy: Arc<DestinationPolicy>,
    /// Names answered from this table instead of DNS (tests), still judged by the policy.
    overrides: HashMap<String, Vec<IpAddr>>,
}

impl PolicyResolver {
    pub fn new(policy: Arc<DestinationPolicy>, overrides: HashMap<String, Vec<IpAddr>>) -> PolicyResolver {
        let overrides = overrides
            .into_iter()
            .map(|(name, addrs)| (name.trim_end_matches('.').to_ascii_lowercase(), addrs))
            .collect();
        PolicyResolver { policy, overrides }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        let overridden = self.overrides.get(host.trim_end_matches('.')).cloned();
        Box::pin(async move {
            policy.check_name(&host)?;
            let addrs: Vec<SocketAddr> = match overridden {
                Some(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
                // Port 0: hyper sets the URL's port on each address.
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            policy.check_resolved(&host, addrs.iter().map(SocketAddr::ip))?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
