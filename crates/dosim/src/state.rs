//! A snapshot of the account's resources, as checks and reports need them.

use serde::Serialize;

/// The account's resources at one moment: what checks compare beliefs against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CloudState {
    /// Every droplet, in id order.
    pub droplets: Vec<DropletState>,
    /// Every volume, in creation order.
    pub volumes: Vec<VolumeState>,
    /// Every reserved IP, in creation order.
    pub reserved_ips: Vec<ReservedIpState>,
    /// Every DNS record of every domain, by domain name, then in creation order; absent from the
    /// trace when there are none, so that runs without domains keep their trace hashes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_records: Vec<DomainRecordState>,
    /// Every firewall, oldest first; absent from the trace when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub firewalls: Vec<FirewallState>,
    /// Every database cluster with its users, databases and pools, oldest first.
    ///
    /// Left out of the trace (and of reports), so that runs with clusters keep their trace hashes;
    /// the API calls that change them are in the history, which the trace covers.
    #[serde(skip_serializing)]
    pub databases: Vec<DatabaseState>,
}

/// One managed database cluster as checks see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseState {
    /// The cluster's UUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `pg`, `valkey`, ….
    pub engine: String,
    /// `creating`, `online`, ….
    pub status: String,
    /// Its users' names, `doadmin` first.
    pub users: Vec<String>,
    /// Its databases' names.
    pub dbs: Vec<String>,
    /// Its connection pools.
    pub pools: Vec<PoolState>,
}

/// One connection pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolState {
    /// The pool's name, which clients give as their database.
    pub name: String,
    /// `transaction`, `session` or `statement`.
    pub mode: String,
    /// Its most server connections.
    pub size: u32,
    /// The database it connects to.
    pub db: String,
    /// The user it connects as, if fixed.
    pub user: Option<String>,
}

/// One firewall: what it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirewallState {
    /// The firewall's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The droplets it applies to by id (those that still exist).
    pub droplet_ids: Vec<u64>,
    /// The tags whose droplets it applies to.
    pub tags: Vec<String>,
}

/// One DNS record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainRecordState {
    /// The record's id.
    pub id: u64,
    /// The domain it belongs to.
    pub domain: String,
    /// Its fully qualified name, e.g. `api.example.com` (the domain itself for `@`).
    pub fqdn: String,
    /// `A`, `CNAME`, `TXT`, ….
    pub record_type: String,
    /// Its data: an address, a host name, text.
    pub data: String,
}

/// One droplet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropletState {
    /// The droplet's id.
    pub id: u64,
    /// Its name (not unique on DigitalOcean).
    pub name: String,
    /// Its region slug.
    pub region: String,
    /// `new`, `active`, `off` or `archive`.
    pub status: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The volumes attached to it.
    pub volume_ids: Vec<String>,
}

/// One block-storage volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeState {
    /// The volume's UUID.
    pub id: String,
    /// Its name (unique per region).
    pub name: String,
    /// Its region slug.
    pub region: String,
    /// Its size in GiB.
    pub size_gigabytes: u64,
    /// The droplets it is attached to (at most one on DigitalOcean).
    pub droplet_ids: Vec<u64>,
    /// Its tags.
    pub tags: Vec<String>,
}

/// One reserved IP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReservedIpState {
    /// The address.
    pub ip: String,
    /// Its region slug.
    pub region: String,
    /// The droplet it is assigned to, if any.
    pub droplet_id: Option<u64>,
}

impl CloudState {
    /// Reads a state from DigitalOcean's wire JSON: `{"droplets": […], "volumes": […], "reserved_ips": […]}`,
    /// each element shaped as the API returns it. Missing keys read as empty.
    pub fn from_wire(value: &serde_json::Value) -> CloudState {
        let list = |key: &str| {
            value
                .get(key)
                .and_then(|items| items.as_array())
                .cloned()
                .unwrap_or_default()
        };
        let mut droplets: Vec<DropletState> = list("droplets")
            .iter()
            .filter_map(|droplet| {
                Some(DropletState {
                    id: droplet.get("id")?.as_u64()?,
                    name: text(droplet, "name"),
                    region: region(droplet),
                    status: text(droplet, "status"),
                    tags: strings(droplet.get("tags")),
                    volume_ids: strings(droplet.get("volume_ids")),
                })
            })
            .collect();
        droplets.sort_by_key(|droplet| droplet.id);
        let volumes = list("volumes")
            .iter()
            .filter_map(|volume| {
                Some(VolumeState {
                    id: volume.get("id")?.as_str()?.to_owned(),
                    name: text(volume, "name"),
                    region: region(volume),
                    size_gigabytes: volume
                        .get("size_gigabytes")
                        .and_then(|size| size.as_u64())
                        .unwrap_or(0),
                    droplet_ids: volume
                        .get("droplet_ids")
                        .and_then(|ids| ids.as_array())
                        .map(|ids| ids.iter().filter_map(|id| id.as_u64()).collect())
                        .unwrap_or_default(),
                    tags: strings(volume.get("tags")),
                })
            })
            .collect();
        let reserved_ips = list("reserved_ips")
            .iter()
            .filter_map(|reserved_ip| {
                Some(ReservedIpState {
                    ip: reserved_ip.get("ip")?.as_str()?.to_owned(),
                    region: region(reserved_ip),
                    droplet_id: reserved_ip
                        .get("droplet")
                        .and_then(|droplet| droplet.get("id"))
                        .and_then(|id| id.as_u64()),
                })
            })
            .collect();
        CloudState {
            droplets,
            volumes,
            reserved_ips,
            // DigitalOcean lists records per domain, not in an account-wide list.
            domain_records: Vec::new(),
            // Nor does a state read from the wire carry clusters.
            databases: Vec::new(),
            firewalls: list("firewalls")
                .iter()
                .filter_map(|firewall| {
                    Some(FirewallState {
                        id: firewall.get("id")?.as_str()?.to_owned(),
                        name: text(firewall, "name"),
                        droplet_ids: firewall
                            .get("droplet_ids")
                            .and_then(|ids| ids.as_array())
                            .map(|ids| ids.iter().filter_map(|id| id.as_u64()).collect())
                            .unwrap_or_default(),
                        tags: strings(firewall.get("tags")),
                    })
                })
                .collect(),
        }
    }

    /// Every resource as `kind id`, the form operations record what they saw.
    pub fn resource_names(&self) -> Vec<String> {
        let droplets = self
            .droplets
            .iter()
            .map(|droplet| format!("droplet {}", droplet.id));
        let volumes = self
            .volumes
            .iter()
            .map(|volume| format!("volume {}", volume.id));
        let reserved_ips = self
            .reserved_ips
            .iter()
            .map(|reserved_ip| format!("reserved_ip {}", reserved_ip.ip));
        droplets.chain(volumes).chain(reserved_ips).collect()
    }

    /// A one-line-per-resource summary for reports.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for droplet in &self.droplets {
            let mut line = format!(
                "droplet {} {} {} {}",
                droplet.id, droplet.name, droplet.region, droplet.status
            );
            if !droplet.tags.is_empty() {
                line.push_str(&format!(" tags={}", droplet.tags.join(",")));
            }
            lines.push(line);
        }
        for volume in &self.volumes {
            let attached = match volume.droplet_ids.as_slice() {
                [] => "unattached".to_owned(),
                ids => format!(
                    "attached to {}",
                    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
                ),
            };
            lines.push(format!(
                "volume {} {} {} {}GiB {attached}",
                crate::history::short(&volume.id),
                volume.name,
                volume.region,
                volume.size_gigabytes
            ));
        }
        for reserved_ip in &self.reserved_ips {
            let assigned = reserved_ip
                .droplet_id
                .map_or("unassigned".to_owned(), |id| format!("assigned to {id}"));
            lines.push(format!(
                "reserved_ip {} {} {assigned}",
                reserved_ip.ip, reserved_ip.region
            ));
        }
        for firewall in &self.firewalls {
            let droplets: Vec<String> = firewall.droplet_ids.iter().map(u64::to_string).collect();
            lines.push(format!(
                "firewall {} {} droplets=[{}] tags=[{}]",
                crate::history::short(&firewall.id),
                firewall.name,
                droplets.join(","),
                firewall.tags.join(",")
            ));
        }
        // The SOA and DigitalOcean's name servers every zone starts with say nothing.
        for record in self.domain_records.iter().filter(|r| {
            r.record_type != "SOA"
                && !(r.record_type == "NS"
                    && r.fqdn == r.domain
                    && dosim_cloud::NAME_SERVERS.contains(&r.data.as_str()))
        }) {
            lines.push(format!(
                "record {} {} {} {}",
                record.id, record.fqdn, record.record_type, record.data
            ));
        }
        lines
    }
}

fn text(value: &serde_json::Value, key: &str) -> String {
    value
        .get(key)
        .and_then(|text| text.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    value
        .and_then(|items| items.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    serde_json::Value::String(text) => Some(text.clone()),
                    serde_json::Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn region(value: &serde_json::Value) -> String {
    match value.get("region") {
        Some(serde_json::Value::String(slug)) => slug.clone(),
        Some(region) => text(region, "slug"),
        None => String::new(),
    }
}

impl CloudState {
    /// Reads the state of a model account directly, without advancing its time.
    pub fn from_cloud(cloud: &dosim_cloud::Cloud) -> CloudState {
        CloudState {
            droplets: cloud
                .droplets_view()
                .map(|droplet| DropletState {
                    id: droplet.id.0,
                    name: droplet.name.clone(),
                    region: droplet.region.clone(),
                    status: droplet.status.as_str().to_owned(),
                    tags: droplet.tags.clone(),
                    volume_ids: droplet
                        .volume_ids
                        .iter()
                        .map(|id| id.0.to_string())
                        .collect(),
                })
                .collect(),
            volumes: cloud
                .volumes_view()
                .map(|volume| VolumeState {
                    id: volume.id.0.to_string(),
                    name: volume.name.clone(),
                    region: volume.region.clone(),
                    size_gigabytes: volume.size_gigabytes,
                    droplet_ids: volume.droplet_ids.iter().map(|id| id.0).collect(),
                    tags: volume.tags.clone(),
                })
                .collect(),
            reserved_ips: cloud
                .reserved_ips_view()
                .map(|reserved_ip| ReservedIpState {
                    ip: reserved_ip.ip.to_string(),
                    region: reserved_ip.region.clone(),
                    droplet_id: reserved_ip.droplet_id.map(|id| id.0),
                })
                .collect(),
            domain_records: cloud
                .domains_view()
                .flat_map(|domain| {
                    domain.records.iter().map(|record| DomainRecordState {
                        id: record.id,
                        domain: domain.name.clone(),
                        fqdn: domain.fqdn(&record.name),
                        record_type: record.record_type.clone(),
                        data: record.data.clone(),
                    })
                })
                .collect(),
            firewalls: cloud
                .firewalls_view()
                .map(|firewall| FirewallState {
                    id: firewall.id.to_string(),
                    name: firewall.name.clone(),
                    droplet_ids: firewall
                        .droplet_ids
                        .iter()
                        .copied()
                        .filter(|id| cloud.droplets_view().any(|d| d.id.0 == *id))
                        .collect(),
                    tags: firewall.tags.clone(),
                })
                .collect(),
            databases: cloud
                .databases_view()
                .map(|database| DatabaseState {
                    id: database.id.to_string(),
                    name: database.name.clone(),
                    engine: database.engine.clone(),
                    status: database.status.as_str().to_owned(),
                    users: database.users.iter().map(|u| u.name.clone()).collect(),
                    dbs: database.db_names.clone(),
                    pools: database
                        .pools
                        .iter()
                        .map(|pool| PoolState {
                            name: pool.name.clone(),
                            mode: pool.mode.clone(),
                            size: pool.size,
                            db: pool.db.clone(),
                            user: pool.user.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The state of `token`'s account on `server`, after completing whatever is due by the server's now.
pub(crate) fn snapshot(server: &dosim_api::Server, token: &str) -> CloudState {
    let now = server.now();
    server.with_account(token, |cloud| {
        cloud.advance(now);
        CloudState::from_cloud(cloud)
    })
}
