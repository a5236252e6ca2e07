//! Domains and their DNS records.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::collection::Collection;
use crate::common::null_default;
use crate::error::Error;

/// A domain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// The name, e.g. `example.com`.
    pub name: String,
    /// The zone's TTL in seconds.
    #[serde(default)]
    pub ttl: Option<u32>,
    /// The zone file.
    #[serde(default)]
    pub zone_file: Option<String>,
}

/// A DNS record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecord {
    /// The id.
    pub id: u64,
    /// `A`, `AAAA`, `CAA`, `CNAME`, `MX`, `NS`, `SOA`, `SRV` or `TXT`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// The host name relative to the domain, `@` for the apex.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// The value.
    #[serde(default, deserialize_with = "null_default")]
    pub data: String,
    /// MX and SRV priority.
    #[serde(default)]
    pub priority: Option<u32>,
    /// SRV port.
    #[serde(default)]
    pub port: Option<u32>,
    /// TTL in seconds.
    #[serde(default)]
    pub ttl: u32,
    /// SRV weight.
    #[serde(default)]
    pub weight: Option<u32>,
    /// CAA flags.
    #[serde(default)]
    pub flags: Option<u32>,
    /// CAA tag.
    #[serde(default)]
    pub tag: Option<String>,
}

/// A record to create, or the fields of one to change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DomainRecordEdit {
    /// The type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    /// The name relative to the domain, `@` for the apex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// MX and SRV priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// SRV port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// TTL in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// SRV weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// CAA flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    /// CAA tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl DomainRecordEdit {
    /// A record of `record_type` named `name` with `data`.
    pub fn new(record_type: &str, name: &str, data: &str) -> DomainRecordEdit {
        DomainRecordEdit {
            record_type: Some(record_type.into()),
            name: Some(name.into()),
            data: Some(data.into()),
            ..DomainRecordEdit::default()
        }
    }

    /// With a TTL.
    pub fn ttl(mut self, seconds: u32) -> DomainRecordEdit {
        self.ttl = Some(seconds);
        self
    }

    /// With a priority (MX, SRV).
    pub fn priority(mut self, priority: u32) -> DomainRecordEdit {
        self.priority = Some(priority);
        self
    }
}

#[derive(Serialize)]
struct CreateBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<&'a str>,
}

/// `client.domains()` on `/v2/domains`.
pub struct DomainsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> DomainsService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/domains", "domain", "domains")
    }

    fn records_path(&self, domain: &str) -> String {
        format!("{}/records", self.collection().item(domain))
    }

    fn record_path(&self, domain: &str, id: u64) -> String {
        format!("{}/{id}", self.records_path(domain))
    }

    /// Creates a domain, with an `A` record for the apex when `ip_address` is given.
    pub async fn create(&self, name: &str, ip_address: Option<&str>) -> Result<Domain, Error> {
        let body = CreateBody { name, ip_address };
        self.collection().create(&body).await
    }

    /// `GET /v2/domains/{name}`.
    pub async fn get(&self, name: &str) -> Result<Domain, Error> {
        self.collection().get(name).await
    }

    /// `GET /v2/domains`.
    pub fn list(&self) -> List<'a, Domain> {
        self.collection().list()
    }

    /// Deletes the domain and its records.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        self.collection().delete(name).await
    }

    /// `GET /v2/domains/{name}/records`; filter with `.name("api.example.com")` (a fully
    /// qualified name) and `.record_type("A")`.
    pub fn records(&self, domain: &str) -> List<'a, DomainRecord> {
        List::new(self.client, self.records_path(domain), "domain_records")
    }

    /// `GET /v2/domains/{name}/records/{id}`.
    pub async fn record(&self, domain: &str, id: u64) -> Result<DomainRecord, Error> {
        self.client
            .get(&self.record_path(domain, id), "domain_record")
            .await
    }

    /// Creates a record; a record with the same name and type is a second record, not an error.
    pub async fn create_record(
        &self,
        domain: &str,
        record: &DomainRecordEdit,
    ) -> Result<DomainRecord, Error> {
        let path = self.records_path(domain);
        self.client
            .send_json(Method::POST, &path, record, "domain_record")
            .await
    }

    /// Changes the fields given (`PATCH`).
    pub async fn update_record(
        &self,
        domain: &str,
        id: u64,
        edit: &DomainRecordEdit,
    ) -> Result<DomainRecord, Error> {
        self.client
            .send_json(
                Method::PATCH,
                &self.record_path(domain, id),
                edit,
                "domain_record",
            )
            .await
    }

    /// Deletes a record.
    pub async fn delete_record(&self, domain: &str, id: u64) -> Result<(), Error> {
        self.client.delete(&self.record_path(domain, id)).await
    }
}

impl<'a> List<'a, DomainRecord> {
    /// Only records with this fully qualified name (`api.example.com`).
    pub fn name(self, fqdn: &str) -> Self {
        self.param("name", fqdn)
    }

    /// Only records of this type.
    pub fn record_type(self, record_type: &str) -> Self {
        self.param("type", record_type)
    }
}
