//! VPC networks: each region's default, made with the account, and the ones users create.

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::msg;
use crate::{catalog, Cloud, Error, SimTime};

/// The most VPCs one account may hold in dosim, defaults included.
pub const VPCS_MAX: usize = 100;
/// The longest VPC description DigitalOcean accepts.
pub const VPC_DESCRIPTION_LEN_MAX: usize = 255;
/// The longest VPC name dosim accepts.
pub const VPC_NAME_LEN_MAX: usize = 255;

/// An IPv4 network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    base: u32,
    prefix: u8,
}

impl Ipv4Net {
    /// The network `base/prefix`; the host bits of `base` must be zero.
    pub fn new(base: Ipv4Addr, prefix: u8) -> Option<Ipv4Net> {
        let base = u32::from(base);
        (prefix <= 32 && base & !Self::mask(prefix) == 0).then_some(Ipv4Net { base, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
    }

    /// Reads `a.b.c.d/n`.
    pub fn parse(text: &str) -> Option<Ipv4Net> {
        let (addr, prefix) = text.split_once('/')?;
        let prefix: u8 = prefix.parse().ok()?;
        Ipv4Net::new(addr.parse().ok()?, prefix)
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// The first address.
    pub fn base(self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    /// How many addresses it holds.
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Whether the two share an address.
    pub fn overlaps(self, other: Ipv4Net) -> bool {
        let shorter = self.prefix.min(other.prefix);
        let mask = Self::mask(shorter);
        self.base & mask == other.base & mask
    }

    /// Whether it lies inside RFC 1918's private ranges.
    pub fn is_private(self) -> bool {
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            .iter()
            .filter_map(|range| Ipv4Net::parse(range))
            .any(|range| range.prefix <= self.prefix && range.overlaps(self))
    }

    /// The address `offset` from the base.
    pub fn nth(self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(offset))
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Ipv4Net, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ipv4Net::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not a network in CIDR notation"))
        })
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A VPC network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    /// The id.
    pub id: Uuid,
    /// The name, unique on the account.
    pub name: String,
    /// A description.
    pub description: String,
    /// The region slug.
    pub region: String,
    /// Its addresses.
    pub ip_range: Ipv4Net,
    /// Whether new resources in the region land in it when they name no VPC.
    pub default: bool,
    /// When it was created.
    pub created_at: SimTime,
}

/// A VPC to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VpcCreate {
    /// The name.
    pub name: String,
    /// The region slug.
    pub region: String,
    /// A description.
    pub description: Option<String>,
    /// Its addresses; a free `/20` when absent.
    pub ip_range: Option<String>,
}

/// Changes to a VPC; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VpcUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// `true` makes it its region's default; `false` is refused, as DigitalOcean refuses unsetting it.
    pub default: Option<bool>,
}

/// A resource in a VPC, as `GET /v2/vpcs/{id}/members` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VpcMember {
    /// `do:droplet:<id>` or `do:dbaas:<uuid>`.
    pub urn: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: SimTime,
}

fn check_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= VPC_NAME_LEN_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::unprocessable(format!(
            "name: {name:?} may only contain alphanumeric characters, dashes, and periods"
        )))
    }
}

fn check_description(description: &str) -> Result<(), Error> {
    if description.len() > VPC_DESCRIPTION_LEN_MAX {
        return Err(Error::unprocessable(format!(
            "description: may be at most {VPC_DESCRIPTION_LEN_MAX} characters"
        )));
    }
    Ok(())
}

/// `default-<region>`, the name DigitalOcean gives a region's default VPC; made without the
/// formatting machinery, since every account is made with one per region.
fn default_name(region: &str) -> String {
    const PREFIX: &str = "default-";
    let mut name = String::with_capacity(PREFIX.len() + region.len());
    name.push_str(PREFIX);
    name.push_str(region);
    name
}

/// Each region's default VPC as the account is created with it: named `default-<region>`, on
/// `10.<region's octet>.0.0/20`, where dosim draws droplets' private addresses.
pub(crate) fn defaults(ids: &std::collections::BTreeMap<String, Uuid>) -> IndexMap<Uuid, Vpc> {
    // Sized up front: every account is made with these, so growing the map step by step
    // showed in a short run's profile.
    let mut defaults = IndexMap::with_capacity(catalog::regions().len());
    defaults.extend(catalog::regions().iter().filter_map(|region| {
        let id = *ids.get(region.slug)?;
        let ip_range = Ipv4Net::new(Ipv4Addr::new(10, region.vpc_octet, 0, 0), 20)?;
        Some((
            id,
            Vpc {
                id,
                name: default_name(region.slug),
                description: String::new(),
                region: region.slug.to_owned(),
                ip_range,
                default: true,
                created_at: SimTime::ZERO,
            },
        ))
    }));
    defaults
}

impl Cloud {
    /// `POST /v2/vpcs`.
    pub fn create_vpc(&mut self, now: SimTime, req: VpcCreate) -> Result<Vpc, Error> {
        self.enter(now, |cloud| {
            check_name(&req.name)?;
            if let Some(description) = &req.description {
                check_description(description)?;
            }
            if !catalog::regions().iter().any(|r| r.slug == req.region) {
                return Err(Error::unprocessable(format!(
                    "region: {:?} is not a region",
                    req.region
                )));
            }
            if cloud.vpc_networks.values().any(|v| v.name == req.name) {
                return Err(Error::unprocessable(msg::VPC_NAME_TAKEN));
            }
            if cloud.vpc_networks.len() >= VPCS_MAX {
                return Err(Error::unprocessable(format!(
                    "the account may hold at most {VPCS_MAX} VPCs"
                )));
            }
            let ip_range = match &req.ip_range {
                Some(text) => {
                    let range = Ipv4Net::parse(text).ok_or_else(|| {
                        Error::unprocessable(format!(
                            "ip_range: {text:?} is not a network in CIDR notation"
                        ))
                    })?;
                    if !(16..=28).contains(&range.prefix()) || !range.is_private() {
                        return Err(Error::unprocessable(
                            "ip_range: must be in range of private addresses as defined in RFC1918, no smaller than /28 and no larger than /16",
                        ));
                    }
                    if cloud
                        .vpc_networks
                        .values()
                        .any(|v| v.ip_range.overlaps(range))
                    {
                        return Err(Error::unprocessable(msg::VPC_RANGE_OVERLAPS));
                    }
                    range
                }
                None => cloud.free_range().ok_or_else(|| {
                    Error::unprocessable("ip_range: no free /20 is left in 10.0.0.0/8")
                })?,
            };
            let vpc = Vpc {
                id: cloud.new_uuid(),
                name: req.name,
                description: req.description.unwrap_or_default(),
                region: req.region,
                ip_range,
                default: false,
                created_at: cloud.now,
            };
            cloud.vpc_networks.insert(vpc.id, vpc.clone());
            Ok(vpc)
        })
    }

    /// The first `/20` in 10.0.0.0/8, from 10.100.0.0 up, that overlaps no VPC of the account.
    fn free_range(&self) -> Option<Ipv4Net> {
        (0u32..(156 * 16))
            .filter_map(|i| Ipv4Net::new(Ipv4Addr::from(0x0a64_0000 + (i << 12)), 20))
            .find(|candidate| {
                !self
                    .vpc_networks
                    .values()
                    .any(|v| v.ip_range.overlaps(*candidate))
            })
    }

    /// `GET /v2/vpcs`: the defaults first, by region, then the account's own, oldest first.
    pub fn vpcs(&mut self, now: SimTime) -> Vec<Vpc> {
        self.enter(now, |cloud| cloud.vpc_networks.values().cloned().collect())
    }

    /// `GET /v2/vpcs/{id}`.
    pub fn vpc(&mut self, now: SimTime, id: Uuid) -> Result<Vpc, Error> {
        self.enter(now, |cloud| {
            cloud
                .vpc_networks
                .get(&id)
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// `PUT` or `PATCH /v2/vpcs/{id}`.
    pub fn update_vpc(&mut self, now: SimTime, id: Uuid, update: VpcUpdate) -> Result<Vpc, Error> {
        self.enter(now, |cloud| {
            let current = cloud.vpc_networks.get(&id).ok_or_else(Error::not_found)?;
            if let Some(name) = &update.name {
                check_name(name)?;
                if cloud
                    .vpc_networks
                    .values()
                    .any(|v| v.id != id && v.name == *name)
                {
                    return Err(Error::unprocessable(msg::VPC_NAME_TAKEN));
                }
            }
            if let Some(description) = &update.description {
                check_description(description)?;
            }
            if update.default == Some(false) && current.default {
                return Err(Error::unprocessable(msg::VPC_DEFAULT_UNSET));
            }
            let region = current.region.clone();
            if update.default == Some(true) {
                for vpc in cloud.vpc_networks.values_mut() {
                    if vpc.region == region {
                        vpc.default = vpc.id == id;
                    }
                }
                cloud.vpcs.insert(region, id);
            }
            let vpc = cloud.vpc_networks.get_mut(&id).expect("checked above");
            if let Some(name) = update.name {
                vpc.name = name;
            }
            if let Some(description) = update.description {
                vpc.description = description;
            }
            Ok(vpc.clone())
        })
    }

    /// `DELETE /v2/vpcs/{id}`: refused for a region's default and for a VPC with members.
    pub fn delete_vpc(&mut self, now: SimTime, id: Uuid) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let vpc = cloud.vpc_networks.get(&id).ok_or_else(Error::not_found)?;
            if vpc.default {
                return Err(Error::new(
                    crate::ErrorKind::Forbidden,
                    msg::VPC_DEFAULT_DELETE,
                ));
            }
            if !cloud.vpc_members_of(id).is_empty() {
                return Err(Error::new(crate::ErrorKind::Conflict, msg::VPC_HAS_MEMBERS));
            }
            cloud.vpc_networks.shift_remove(&id);
            Ok(())
        })
    }

    /// `GET /v2/vpcs/{id}/members`: droplets, then database clusters, oldest first.
    pub fn vpc_members(&mut self, now: SimTime, id: Uuid) -> Result<Vec<VpcMember>, Error> {
        self.enter(now, |cloud| {
            if !cloud.vpc_networks.contains_key(&id) {
                return Err(Error::not_found());
            }
            Ok(cloud.vpc_members_of(id))
        })
    }

    fn vpc_members_of(&self, id: Uuid) -> Vec<VpcMember> {
        let droplets = self
            .droplets
            .values()
            .filter(|d| d.vpc_uuid == id)
            .map(|d| VpcMember {
                urn: format!("do:droplet:{}", d.id),
                name: d.name.clone(),
                created_at: d.created_at,
            });
        let databases = self
            .databases
            .values()
            .filter(|d| d.private_network_uuid == id)
            .map(|d| VpcMember {
                urn: format!("do:dbaas:{}", d.id),
                name: d.name.clone(),
                created_at: d.created_at,
            });
        droplets.chain(databases).collect()
    }

    /// The VPC a droplet created in `region` with `vpc_uuid` lands in: the named one, which must
    /// exist and be in that region, or the region's default.
    pub(crate) fn droplet_vpc(&self, region: &str, vpc_uuid: Option<Uuid>) -> Result<Uuid, Error> {
        match vpc_uuid {
            None => Ok(self.vpcs[region]),
            Some(id) => match self.vpc_networks.get(&id) {
                None => Err(Error::unprocessable(format!(
                    "vpc_uuid: no VPC {id} on this account"
                ))),
                Some(vpc) if vpc.region != region => Err(Error::unprocessable(
                    "vpc_uuid: the VPC must be in the same region as the Droplet",
                )),
                Some(_) => Ok(id),
            },
        }
    }

    /// The addresses of `range` that live droplets hold now.
    fn held_in(&self, range: Ipv4Net) -> std::collections::BTreeSet<Ipv4Addr> {
        self.droplets
            .values()
            .flat_map(|d| d.planned_networks.v4.iter().map(|n| n.ip_address))
            .filter(|addr| Ipv4Net::new(*addr, 32).is_some_and(|one| range.overlaps(one)))
            .collect()
    }

    /// Whether `vpc` has `n` free private addresses; a region default's always does. An address
    /// of a user VPC is free again once the droplet that held it is gone, as DigitalOcean reuses
    /// them.
    pub(crate) fn vpc_has_room(&self, region: &catalog::Region, vpc: Uuid, n: usize) -> bool {
        let builtin = Ipv4Net::new(Ipv4Addr::new(10, region.vpc_octet, 0, 0), 20);
        match self.vpc_networks.get(&vpc).map(|v| v.ip_range) {
            Some(range) if Some(range) != builtin => {
                let hosts = range.size().saturating_sub(3);
                let held = self.held_in(range).len() as u64;
                hosts.saturating_sub(held) >= n as u64
            }
            _ => true,
        }
    }

    /// A private address for a droplet in `vpc`: a region default's as dosim always drew them,
    /// else an address of the VPC's range (its first and last held back) that no live droplet
    /// holds.
    pub(crate) fn new_vpc_ipv4(&mut self, region: &catalog::Region, vpc: Uuid) -> Ipv4Addr {
        let range = self.vpc_networks.get(&vpc).map(|v| v.ip_range);
        let builtin = Ipv4Net::new(Ipv4Addr::new(10, region.vpc_octet, 0, 0), 20);
        match range {
            Some(range) if Some(range) != builtin && range.size() > 4 => {
                let held = self.held_in(range);
                let hosts = u32::try_from(range.size() - 3).unwrap_or(u32::MAX);
                // A bounded number of draws, then the first free address in order.
                let mut chosen = None;
                for _ in 0..64 {
                    let addr = range.nth(2 + self.rng.random_range(0..hosts));
                    if !held.contains(&addr) {
                        chosen = Some(addr);
                        break;
                    }
                }
                // `vpc_has_room` was checked before the create began, and the droplets made in
                // this create are live, so they count as held.
                let addr = chosen
                    .or_else(|| {
                        (0..hosts)
                            .map(|i| range.nth(2 + i))
                            .find(|a| !held.contains(a))
                    })
                    .expect("the create checked the VPC has room");
                self.used_ips.insert(addr);
                addr
            }
            _ => self.new_private_ipv4(region),
        }
    }
}
