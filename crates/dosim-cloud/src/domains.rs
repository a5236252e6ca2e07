//! Domains and their DNS records.
//!
//! DigitalOcean keeps record names unique per nothing: two `A` records named `api` are two
//! records, which is how two workers that each "ensure" a record end up with two.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::msg;
use crate::{Cloud, Error, SimTime};

/// The TTL DigitalOcean gives records and the zone unless told otherwise, in seconds.
pub const RECORD_TTL_DEFAULT: u32 = 1800;
/// The shortest TTL DigitalOcean accepts, in seconds.
pub const RECORD_TTL_MIN: u32 = 30;
/// The most domains one account may hold in dosim.
pub const DOMAINS_MAX: usize = 1000;
/// The most records one domain may hold in dosim.
pub const RECORDS_PER_DOMAIN_MAX: usize = 10_000;
/// The longest record `data` dosim accepts (a TXT record's, in practice), in bytes.
pub const RECORD_DATA_LEN_MAX: usize = 4096;
/// DigitalOcean's name servers, which every new domain gets as its `NS` records.
pub const NAME_SERVERS: [&str; 3] = [
    "ns1.digitalocean.com",
    "ns2.digitalocean.com",
    "ns3.digitalocean.com",
];

/// One DNS record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecord {
    /// The id, unique on the account.
    pub id: u64,
    /// `A`, `AAAA`, `CAA`, `CNAME`, `MX`, `NS`, `SOA`, `SRV` or `TXT`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// The host name relative to the domain, `@` for the apex.
    pub name: String,
    /// The value: an address, a host name, text.
    pub data: String,
    /// MX and SRV priority.
    pub priority: Option<u32>,
    /// SRV port.
    pub port: Option<u32>,
    /// Seconds.
    pub ttl: u32,
    /// SRV weight.
    pub weight: Option<u32>,
    /// CAA flags.
    pub flags: Option<u32>,
    /// CAA tag: `issue`, `issuewild` or `iodef`.
    pub tag: Option<String>,
}

/// A domain and its records, in creation order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// The name, e.g. `example.com`.
    pub name: String,
    /// The zone's TTL.
    pub ttl: u32,
    /// When the zone last changed: the SOA serial.
    pub serial: u64,
    /// The records, the SOA and NS records first.
    pub records: Vec<DomainRecord>,
}

impl Domain {
    /// The zone file, as `GET /v2/domains/{name}` shows it.
    pub fn zone_file(&self) -> String {
        let mut zone = format!(
            "$ORIGIN {name}.\n$TTL {ttl}\n{name}. IN SOA ns1.digitalocean.com. hostmaster.{name}. {serial} 10800 3600 604800 {ttl}\n",
            name = self.name,
            ttl = self.ttl,
            serial = self.serial
        );
        for record in self.records.iter().filter(|r| r.record_type != "SOA") {
            let owner = self.fqdn(&record.name);
            let value = match record.record_type.as_str() {
                "MX" => format!("{} {}", record.priority.unwrap_or(0), record.data),
                "SRV" => format!(
                    "{} {} {} {}",
                    record.priority.unwrap_or(0),
                    record.weight.unwrap_or(0),
                    record.port.unwrap_or(0),
                    record.data
                ),
                "CAA" => format!(
                    "{} {} \"{}\"",
                    record.flags.unwrap_or(0),
                    record.tag.as_deref().unwrap_or(""),
                    record.data
                ),
                "TXT" => format!("\"{}\"", record.data),
                _ => record.data.clone(),
            };
            zone.push_str(&format!(
                "{owner}. {} IN {} {value}\n",
                record.ttl, record.record_type
            ));
        }
        zone
    }

    /// A record name as a fully qualified name, without the final dot.
    pub fn fqdn(&self, name: &str) -> String {
        if name == "@" {
            self.name.clone()
        } else {
            format!("{name}.{}", self.name)
        }
    }
}

/// A record to create, or the fields of one to change (`None`: unchanged, or the default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainRecordSpec {
    /// The type; required on create.
    pub record_type: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// The data.
    pub data: Option<String>,
    /// MX and SRV priority.
    pub priority: Option<u32>,
    /// SRV port.
    pub port: Option<u32>,
    /// TTL in seconds.
    pub ttl: Option<u32>,
    /// SRV weight.
    pub weight: Option<u32>,
    /// CAA flags.
    pub flags: Option<u32>,
    /// CAA tag.
    pub tag: Option<String>,
}

/// Filters for a domain's record list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainRecordFilter {
    /// Only records whose fully qualified name is this (`api.example.com`).
    pub name: Option<String>,
    /// Only records of this type.
    pub record_type: Option<String>,
}

const RECORD_TYPES: [&str; 9] = ["A", "AAAA", "CAA", "CNAME", "MX", "NS", "SOA", "SRV", "TXT"];

/// A domain name: dot-separated labels of letters, digits and inner hyphens, at least two, at
/// most 253 characters.
fn check_domain_name(name: &str) -> Result<(), Error> {
    let labels: Vec<&str> = name.split('.').collect();
    let valid = name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        Ok(())
    } else {
        Err(Error::unprocessable(format!(
            "name: {name:?} is not a valid domain name"
        )))
    }
}

/// A record name: `@`, or labels of letters, digits, `-`, `_` and `*`.
fn check_record_name(name: &str) -> Result<(), Error> {
    let valid = name == "@"
        || (name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*'))
            }));
    if valid {
        Ok(())
    } else {
        Err(Error::unprocessable(format!(
            "name: {name:?} is not a valid record name"
        )))
    }
}

/// A host name a record points at: labels, optionally with the final dot, or `@`.
fn check_hostname(field: &str, value: &str) -> Result<(), Error> {
    let trimmed = value.strip_suffix('.').unwrap_or(value);
    let valid = value == "@"
        || (!trimmed.is_empty()
            && trimmed.len() <= 253
            && trimmed.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            }));
    if valid {
        Ok(())
    } else {
        Err(Error::unprocessable(format!(
            "{field}: {value:?} is not a valid host name"
        )))
    }
}

/// Checks a whole record against its type's rules.
fn check_record(record: &DomainRecord) -> Result<(), Error> {
    let required = |field: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(Error::unprocessable(format!(
                "{field} is required for {} records",
                record.record_type
            )))
        }
    };
    check_record_name(&record.name)?;
    if record.data.len() > RECORD_DATA_LEN_MAX {
        return Err(Error::unprocessable(format!(
            "data: at most {RECORD_DATA_LEN_MAX} bytes"
        )));
    }
    if record.ttl < RECORD_TTL_MIN {
        return Err(Error::unprocessable(format!(
            "ttl: must be at least {RECORD_TTL_MIN} seconds"
        )));
    }
    let data = record.data.as_str();
    match record.record_type.as_str() {
        "A" if data.parse::<Ipv4Addr>().is_err() => {
            return Err(Error::unprocessable(format!(
                "data: {data:?} is not an IPv4 address"
            )));
        }
        "AAAA" if data.parse::<Ipv6Addr>().is_err() => {
            return Err(Error::unprocessable(format!(
                "data: {data:?} is not an IPv6 address"
            )));
        }
        "CNAME" | "NS" => check_hostname("data", data)?,
        "MX" => {
            required("priority", record.priority.is_some())?;
            check_hostname("data", data)?;
        }
        "SRV" => {
            required("priority", record.priority.is_some())?;
            required("port", record.port.is_some())?;
            required("weight", record.weight.is_some())?;
            check_hostname("data", data)?;
        }
        "CAA" => {
            required("flags", record.flags.is_some())?;
            if !matches!(record.tag.as_deref(), Some("issue" | "issuewild" | "iodef")) {
                return Err(Error::unprocessable(
                    "tag: must be one of issue, issuewild, iodef for CAA records",
                ));
            }
            required("data", !data.is_empty())?;
        }
        "TXT" => required("data", !data.is_empty())?,
        _ => {}
    }
    for (field, value, max) in [
        ("priority", record.priority, 65_535),
        ("port", record.port, 65_535),
        ("weight", record.weight, 65_535),
        ("flags", record.flags, 255),
    ] {
        if value.is_some_and(|v| v > max) {
            return Err(Error::unprocessable(format!(
                "{field}: must be at most {max}"
            )));
        }
    }
    Ok(())
}

impl Cloud {
    fn next_record_id(&mut self) -> u64 {
        // Drawn the first time a record is made, so accounts without domains draw nothing.
        let next = match self.next_record_id {
            Some(next) => next,
            None => self.rng.random_range(1_700_000_000..1_800_000_000),
        };
        self.next_record_id = Some(next + 1);
        next
    }

    fn new_record(&mut self, record_type: &str, name: &str, data: &str, ttl: u32) -> DomainRecord {
        DomainRecord {
            id: self.next_record_id(),
            record_type: record_type.to_owned(),
            name: name.to_owned(),
            data: data.to_owned(),
            priority: None,
            port: None,
            ttl,
            weight: None,
            flags: None,
            tag: None,
        }
    }

    /// `POST /v2/domains`: the zone with its SOA and DigitalOcean's three NS records, and an `A`
    /// record for the apex when `ip_address` is given.
    pub fn create_domain(
        &mut self,
        now: SimTime,
        name: &str,
        ip_address: Option<&str>,
    ) -> Result<Domain, Error> {
        self.enter(now, |cloud| {
            check_domain_name(name)?;
            if let Some(ip) = ip_address {
                if ip.parse::<Ipv4Addr>().is_err() {
                    return Err(Error::unprocessable(format!(
                        "ip_address: {ip:?} is not an IPv4 address"
                    )));
                }
            }
            let name = name.to_ascii_lowercase();
            if cloud.domains.contains_key(&name) {
                return Err(Error::unprocessable(msg::DOMAIN_TAKEN));
            }
            if cloud.domains.len() >= DOMAINS_MAX {
                return Err(Error::unprocessable(format!(
                    "the account may hold at most {DOMAINS_MAX} domains"
                )));
            }
            let ttl = RECORD_TTL_DEFAULT;
            let mut records = vec![cloud.new_record("SOA", "@", &ttl.to_string(), ttl)];
            for server in NAME_SERVERS {
                records.push(cloud.new_record("NS", "@", server, ttl));
            }
            if let Some(ip) = ip_address {
                records.push(cloud.new_record("A", "@", ip, ttl));
            }
            let domain = Domain {
                name: name.clone(),
                ttl,
                serial: now.unix_secs(),
                records,
            };
            cloud.domains.insert(name, domain.clone());
            Ok(domain)
        })
    }

    /// `GET /v2/domains`, by name.
    pub fn domains(&mut self, now: SimTime) -> Vec<Domain> {
        self.enter(now, |cloud| cloud.domains.values().cloned().collect())
    }

    /// `GET /v2/domains/{name}`.
    pub fn domain(&mut self, now: SimTime, name: &str) -> Result<Domain, Error> {
        self.enter(now, |cloud| {
            cloud
                .domains
                .get(&name.to_ascii_lowercase())
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// `DELETE /v2/domains/{name}`, with its records.
    pub fn delete_domain(&mut self, now: SimTime, name: &str) -> Result<(), Error> {
        self.enter(now, |cloud| {
            cloud
                .domains
                .remove(&name.to_ascii_lowercase())
                .map(drop)
                .ok_or_else(Error::not_found)
        })
    }

    /// `GET /v2/domains/{name}/records`, in creation order.
    pub fn domain_records(
        &mut self,
        now: SimTime,
        domain: &str,
        filter: &DomainRecordFilter,
    ) -> Result<Vec<DomainRecord>, Error> {
        self.enter(now, |cloud| {
            let domain = cloud
                .domains
                .get(&domain.to_ascii_lowercase())
                .ok_or_else(Error::not_found)?;
            let wanted_name = filter
                .name
                .as_deref()
                .map(|n| n.strip_suffix('.').unwrap_or(n).to_ascii_lowercase());
            Ok(domain
                .records
                .iter()
                .filter(|r| {
                    wanted_name
                        .as_deref()
                        .is_none_or(|n| domain.fqdn(&r.name).eq_ignore_ascii_case(n))
                        && filter
                            .record_type
                            .as_deref()
                            .is_none_or(|t| r.record_type.eq_ignore_ascii_case(t))
                })
                .cloned()
                .collect())
        })
    }

    /// `GET /v2/domains/{name}/records/{id}`.
    pub fn domain_record(
        &mut self,
        now: SimTime,
        domain: &str,
        id: u64,
    ) -> Result<DomainRecord, Error> {
        self.enter(now, |cloud| {
            cloud
                .domains
                .get(&domain.to_ascii_lowercase())
                .and_then(|d| d.records.iter().find(|r| r.id == id))
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// `POST /v2/domains/{name}/records`. Names need not be unique: a second `A` record named
    /// `api` is a second record.
    pub fn create_domain_record(
        &mut self,
        now: SimTime,
        domain: &str,
        spec: DomainRecordSpec,
    ) -> Result<DomainRecord, Error> {
        self.enter(now, |cloud| {
            let key = domain.to_ascii_lowercase();
            let records = cloud
                .domains
                .get(&key)
                .ok_or_else(Error::not_found)?
                .records
                .len();
            let record_type = spec
                .record_type
                .clone()
                .ok_or_else(|| Error::unprocessable("type is required"))?
                .to_ascii_uppercase();
            if !RECORD_TYPES.contains(&record_type.as_str()) {
                return Err(Error::unprocessable(format!(
                    "type: {record_type:?} is not one of {}",
                    RECORD_TYPES.join(", ")
                )));
            }
            if record_type == "SOA" {
                return Err(Error::unprocessable(
                    "type: SOA records cannot be created; update the domain's own",
                ));
            }
            if records >= RECORDS_PER_DOMAIN_MAX {
                return Err(Error::unprocessable(format!(
                    "a domain may hold at most {RECORDS_PER_DOMAIN_MAX} records"
                )));
            }
            let name = match (spec.name, record_type.as_str()) {
                (Some(name), _) => name,
                (None, "MX") => "@".to_owned(),
                (None, _) => return Err(Error::unprocessable("name is required")),
            };
            let mut record = DomainRecord {
                id: 0,
                record_type,
                name,
                data: spec.data.unwrap_or_default(),
                priority: spec.priority,
                port: spec.port,
                ttl: spec.ttl.unwrap_or(RECORD_TTL_DEFAULT),
                weight: spec.weight,
                flags: spec.flags,
                tag: spec.tag,
            };
            if record.data.is_empty() {
                return Err(Error::unprocessable("data is required"));
            }
            check_record(&record)?;
            record.id = cloud.next_record_id();
            let domain = cloud.domains.get_mut(&key).expect("checked above");
            domain.records.push(record.clone());
            domain.serial = domain.serial.max(now.unix_secs());
            Ok(record)
        })
    }

    /// `PUT` or `PATCH /v2/domains/{name}/records/{id}`: the fields given change; the type cannot.
    pub fn update_domain_record(
        &mut self,
        now: SimTime,
        domain: &str,
        id: u64,
        spec: DomainRecordSpec,
    ) -> Result<DomainRecord, Error> {
        self.enter(now, |cloud| {
            let key = domain.to_ascii_lowercase();
            let zone = cloud.domains.get(&key).ok_or_else(Error::not_found)?;
            let current = zone
                .records
                .iter()
                .find(|r| r.id == id)
                .ok_or_else(Error::not_found)?;
            if let Some(record_type) = &spec.record_type {
                if !record_type.eq_ignore_ascii_case(&current.record_type) {
                    return Err(Error::unprocessable(format!(
                        "type: a {} record cannot become a {record_type} record",
                        current.record_type
                    )));
                }
            }
            let mut updated = current.clone();
            if let Some(name) = spec.name {
                updated.name = name;
            }
            if let Some(data) = spec.data {
                updated.data = data;
            }
            updated.priority = spec.priority.or(updated.priority);
            updated.port = spec.port.or(updated.port);
            updated.ttl = spec.ttl.unwrap_or(updated.ttl);
            updated.weight = spec.weight.or(updated.weight);
            updated.flags = spec.flags.or(updated.flags);
            updated.tag = spec.tag.or(updated.tag);
            if updated.record_type == "SOA" {
                // Only the SOA's TTL can change.
                if updated.ttl < RECORD_TTL_MIN {
                    return Err(Error::unprocessable(format!(
                        "ttl: must be at least {RECORD_TTL_MIN} seconds"
                    )));
                }
                updated.name = current.name.clone();
                updated.data = updated.ttl.to_string();
            } else {
                check_record(&updated)?;
            }
            let zone = cloud.domains.get_mut(&key).expect("checked above");
            let slot = zone
                .records
                .iter_mut()
                .find(|r| r.id == id)
                .expect("checked above");
            *slot = updated.clone();
            if updated.record_type == "SOA" {
                zone.ttl = updated.ttl;
            }
            zone.serial = zone.serial.max(now.unix_secs());
            Ok(updated)
        })
    }

    /// `DELETE /v2/domains/{name}/records/{id}`; the SOA record cannot be deleted.
    pub fn delete_domain_record(
        &mut self,
        now: SimTime,
        domain: &str,
        id: u64,
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let zone = cloud
                .domains
                .get_mut(&domain.to_ascii_lowercase())
                .ok_or_else(Error::not_found)?;
            let index = zone
                .records
                .iter()
                .position(|r| r.id == id)
                .ok_or_else(Error::not_found)?;
            if zone.records[index].record_type == "SOA" {
                return Err(Error::unprocessable("SOA records cannot be deleted"));
            }
            zone.records.remove(index);
            zone.serial = zone.serial.max(now.unix_secs());
            Ok(())
        })
    }
}

/// Every domain's records, for the invariants: ids unique on the account.
pub(crate) fn record_ids(domains: &BTreeMap<String, Domain>) -> Vec<u64> {
    domains
        .values()
        .flat_map(|d| d.records.iter().map(|r| r.id))
        .collect()
}
