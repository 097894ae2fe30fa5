//! The node's settings (`config get` and `set`): hops, stale and forget days, the LAN network,
//! pub mode and the pubs it visits.

use super::{DEFAULT_NETWORK, Node, NodeError, RESTORED, Result};
use crate::graph;

pub const DEFAULT_STALE_DAYS: u32 = 30;
pub const DEFAULT_FORGET_DAYS: u32 = 30;
const MAX_STALE_DAYS: u32 = 36_500;

fn unknown_setting(key: &str) -> NodeError {
    NodeError::Usage(format!(
        "there is no setting '{key}'; the settings are: hops (0 to {}), network (a name), \
         pub (on or off), folder-stale-days (1 to {MAX_STALE_DAYS}), forget-after-days (0 to \
         {MAX_STALE_DAYS})",
        graph::MAX_HOPS
    ))
}

impl Node {
    /// How many follow-steps away feeds are replicated (`config set hops N`).
    pub fn hops(&self) -> Result<u32> {
        Ok(self
            .store
            .config("hops")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(graph::DEFAULT_HOPS))
    }

    /// Days after which a drop-folder participant's newest file no longer shapes what we write
    /// (`config set folder-stale-days N`).
    pub fn folder_stale_days(&self) -> Result<u32> {
        Ok(self
            .store
            .config("folder-stale-days")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_STALE_DAYS))
    }

    /// Days a feed that left the replication set stays hidden, ready to be shown again,
    /// before it is forgotten (`config set forget-after-days N`).
    pub fn forget_after_days(&self) -> Result<u32> {
        Ok(self
            .store
            .config("forget-after-days")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_FORGET_DAYS))
    }

    /// The LAN network name (`config set network NAME`): only nodes with the same name talk.
    pub fn network(&self) -> Result<String> {
        Ok(self
            .store
            .config("network")?
            .unwrap_or_else(|| DEFAULT_NETWORK.to_owned()))
    }

    /// Always-on peers that `serve` visits (`pub add HOST:PORT`).
    pub fn pubs(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .config("pubs")?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }

    /// Forgets a pub; false if it was not one.
    pub fn remove_pub(&mut self, address: &str) -> Result<bool> {
        let mut pubs = self.pubs()?;
        let before = pubs.len();
        pubs.retain(|p| p != address);
        if pubs.len() == before {
            return Ok(false);
        }
        let json = serde_json::to_string(&pubs).map_err(|e| NodeError::Usage(e.to_string()))?;
        self.store.set_config("pubs", &json)?;
        Ok(true)
    }

    pub fn add_pub(&mut self, address: &str) -> Result<()> {
        use std::net::ToSocketAddrs;
        if address
            .to_socket_addrs()
            .map(|mut a| a.next().is_none())
            .unwrap_or(true)
        {
            return Err(NodeError::Usage(format!(
                "'{address}' is not a HOST:PORT this machine can resolve"
            )));
        }
        let mut pubs = self.pubs()?;
        if !pubs.iter().any(|p| p == address) {
            pubs.push(address.to_owned());
        }
        let json = serde_json::to_string(&pubs).map_err(|e| NodeError::Usage(e.to_string()))?;
        Ok(self.store.set_config("pubs", &json)?)
    }

    pub fn config(&self, key: &str) -> Result<String> {
        match key {
            "hops" => Ok(self.hops()?.to_string()),
            "network" => self.network(),
            "pub" => Ok(if self.is_pub()? { "on" } else { "off" }.into()),
            "folder-stale-days" => Ok(self.folder_stale_days()?.to_string()),
            "forget-after-days" => Ok(self.forget_after_days()?.to_string()),
            "restored" => Ok(self
                .store
                .config(RESTORED)?
                .unwrap_or_else(|| "no".to_owned())),
            other => Err(unknown_setting(other)),
        }
    }

    pub fn set_config(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "restored" => {
                if value != "done" {
                    return Err(NodeError::Usage(
                        "restored can only be set to done: you are sure no one holds a later \
                         message of your diary"
                            .into(),
                    ));
                }
                self.store.set_config(RESTORED, "done")?;
                Ok(())
            }
            "hops" => {
                let hops: u32 = value
                    .parse()
                    .ok()
                    .filter(|h| *h <= graph::MAX_HOPS)
                    .ok_or_else(|| {
                        NodeError::Usage(format!(
                            "hops is a whole number from 0 to {}",
                            graph::MAX_HOPS
                        ))
                    })?;
                self.store.set_config("hops", &hops.to_string())?;
                self.settle()?;
                Ok(())
            }
            "pub" => {
                if !matches!(value, "on" | "off") {
                    return Err(NodeError::Usage("pub is on or off".into()));
                }
                self.store.set_config("pub", value)?;
                self.settle()?;
                Ok(())
            }
            "network" if !value.trim().is_empty() => {
                Ok(self.store.set_config("network", value.trim())?)
            }
            "folder-stale-days" => {
                let days: u32 = value
                    .parse()
                    .ok()
                    .filter(|d| (1..=MAX_STALE_DAYS).contains(d))
                    .ok_or_else(|| {
                        NodeError::Usage(format!(
                            "folder-stale-days is a whole number of days from 1 to {MAX_STALE_DAYS}"
                        ))
                    })?;
                Ok(self.store.set_config(key, &days.to_string())?)
            }
            "forget-after-days" => {
                let days: u32 = value
                    .parse()
                    .ok()
                    .filter(|d| *d <= MAX_STALE_DAYS)
                    .ok_or_else(|| {
                        NodeError::Usage(format!(
                            "forget-after-days is a whole number of days from 0 (at once) to \
                             {MAX_STALE_DAYS}"
                        ))
                    })?;
                self.store.set_config(key, &days.to_string())?;
                self.settle()?;
                Ok(())
            }
            other => Err(unknown_setting(other)),
        }
    }

    /// Pub mode (`serve --pub`, `config set pub on`): also carry every feed that follows us.
    pub fn is_pub(&self) -> Result<bool> {
        Ok(self.store.config("pub")?.as_deref() == Some("on"))
    }
}
