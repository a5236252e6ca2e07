//! A collection of objects under one path: the calls every resource's service makes alike.

use http::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{encode, Client, List};
use crate::error::Error;

/// Objects created at `path`, each at `{path}/{id}`; a response names one object `one` and a list
/// of them `many` (`/v2/vpcs`, `vpc`, `vpcs`).
pub(crate) struct Collection<'a> {
    pub(crate) client: &'a Client,
    path: String,
    one: &'static str,
    many: &'static str,
}

impl<'a> Collection<'a> {
    pub(crate) fn new(
        client: &'a Client,
        path: impl Into<String>,
        one: &'static str,
        many: &'static str,
    ) -> Self {
        Collection {
            client,
            path: path.into(),
            one,
            many,
        }
    }

    /// `{path}/{id}`, the id percent-encoded.
    pub(crate) fn item(&self, id: &str) -> String {
        format!("{}/{}", self.path, encode(id))
    }

    /// Adds to or removes from one of an item's lists (a firewall's `droplets`, a load
    /// balancer's `forwarding_rules`): `method` on `{path}/{id}/{list}`.
    pub(crate) async fn edit_list<B: Serialize + ?Sized>(
        &self,
        method: Method,
        id: &str,
        list: &str,
        body: &B,
    ) -> Result<(), Error> {
        let path = format!("{}/{list}", self.item(id));
        self.client.send_empty(method, &path, body).await
    }

    /// `POST {path}`.
    pub(crate) async fn create<T: DeserializeOwned + Clone + 'static>(
        &self,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.client
            .send_json(Method::POST, &self.path, body, self.one)
            .await
    }

    /// `GET {path}/{id}`.
    pub(crate) async fn get<T: DeserializeOwned + Clone + 'static>(
        &self,
        id: &str,
    ) -> Result<T, Error> {
        self.client.get(&self.item(id), self.one).await
    }

    /// `GET {path}`, page by page.
    pub(crate) fn list<T: DeserializeOwned + Clone + 'static>(&self) -> List<'a, T> {
        List::new(self.client, self.path.clone(), self.many)
    }

    /// `GET {path}` where DigitalOcean answers every object at once, and `null` for none.
    pub(crate) async fn list_unpaged<T: DeserializeOwned + Clone + 'static>(
        &self,
    ) -> Result<Vec<T>, Error> {
        let items: Option<Vec<T>> = self.client.get(&self.path, self.many).await?;
        Ok(items.unwrap_or_default())
    }

    /// `PUT` (the object becomes `body`) or `PATCH` (the fields given change) on `{path}/{id}`.
    pub(crate) async fn send<T: DeserializeOwned + Clone + 'static>(
        &self,
        method: Method,
        id: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.client
            .send_json(method, &self.item(id), body, self.one)
            .await
    }

    /// `DELETE {path}/{id}`.
    pub(crate) async fn delete(&self, id: &str) -> Result<(), Error> {
        self.client.delete(&self.item(id)).await
    }
}
