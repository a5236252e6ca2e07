//! Pagination: `page` and `per_page`, `links.pages` with absolute URLs, and `meta.total`.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::app::json_response;
use crate::body::{encode, Params};

pub const DEFAULT_PER_PAGE: usize = 20;
pub const PER_PAGE_MAX: usize = 200;

/// A requested page. Out-of-range or unparsable values are clamped rather than refused:
/// `page` below 1 reads as 1, `per_page` is clamped to 1..=200.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: usize,
    pub per_page: usize,
}

impl PageRequest {
    pub fn from_params(params: &Params) -> PageRequest {
        let page = params
            .get("page")
            .and_then(|p| p.trim().parse::<i64>().ok())
            .unwrap_or(1)
            .max(1);
        let per_page = params
            .get("per_page")
            .and_then(|p| p.trim().parse::<i64>().ok())
            .unwrap_or(DEFAULT_PER_PAGE as i64)
            .clamp(1, PER_PAGE_MAX as i64);
        PageRequest {
            page: usize::try_from(page).unwrap_or(usize::MAX),
            per_page: per_page as usize,
        }
    }
}

/// One page of a list, with its `links` and `meta`.
pub struct Paged<T> {
    pub items: Vec<T>,
    pub links: Value,
    pub meta: Value,
}

impl<T: Serialize> Paged<T> {
    /// The list's response: this page's items under `key`, with `links` and `meta`.
    pub fn response(self, key: &str) -> Response {
        json_response(StatusCode::OK, &PageBody { key, page: &self })
    }

    /// The list's response with each item rendered by `render` first: only the page's items
    /// are rendered, however long the list.
    pub fn render_response<'a, U: Serialize>(
        &'a self,
        key: &str,
        render: impl FnMut(&'a T) -> U,
    ) -> Response {
        let page = Paged {
            items: self.items.iter().map(render).collect::<Vec<U>>(),
            links: self.links.clone(),
            meta: self.meta.clone(),
        };
        json_response(StatusCode::OK, &PageBody { key, page: &page })
    }
}

/// `{key: items, "links": …, "meta": …}` written straight out, its three keys in sorted order
/// as a `Value` would write them.
struct PageBody<'a, T> {
    key: &'a str,
    page: &'a Paged<T>,
}

impl<T: Serialize> Serialize for PageBody<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let items_at = usize::from(self.key > "links") + usize::from(self.key > "meta");
        let mut map = serializer.serialize_map(Some(3))?;
        if items_at == 0 {
            map.serialize_entry(self.key, &self.page.items)?;
        }
        map.serialize_entry("links", &self.page.links)?;
        if items_at == 1 {
            map.serialize_entry(self.key, &self.page.items)?;
        }
        map.serialize_entry("meta", &self.page.meta)?;
        if items_at == 2 {
            map.serialize_entry(self.key, &self.page.items)?;
        }
        map.end()
    }
}

/// Cuts one page out of `items` and builds links back to `path` on `base_url`.
///
/// Filters from the query (everything but `page` and `per_page`) are kept in the links so
/// that following `next` continues the same listing.
pub fn paginate<T>(items: Vec<T>, params: &Params, base_url: &str, path: &str) -> Paged<T> {
    let request = PageRequest::from_params(params);
    let total = items.len();
    let last = total.div_ceil(request.per_page).max(1);
    let start = request
        .page
        .saturating_sub(1)
        .saturating_mul(request.per_page);
    let items: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(request.per_page)
        .collect();

    let mut filters = String::new();
    for (key, value) in params.pairs() {
        if key != "page" && key != "per_page" && !value.is_empty() {
            filters.push_str(&format!("{}={}&", encode(key), encode(value)));
        }
    }
    let url = |page: usize| {
        format!(
            "{base_url}{path}?{filters}page={page}&per_page={}",
            request.per_page
        )
    };
    let mut pages = Map::new();
    if request.page > 1 {
        pages.insert("first".into(), Value::String(url(1)));
        pages.insert(
            "prev".into(),
            Value::String(url((request.page - 1).min(last))),
        );
    }
    if request.page < last {
        pages.insert("next".into(), Value::String(url(request.page + 1)));
        pages.insert("last".into(), Value::String(url(last)));
    }
    let links = if pages.is_empty() {
        json!({})
    } else {
        json!({ "pages": pages })
    };
    Paged {
        items,
        links,
        meta: json!({ "total": total }),
    }
}
