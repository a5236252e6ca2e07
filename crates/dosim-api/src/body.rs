//! Tolerant reading of JSON request bodies and query strings.
//!
//! Real clients send `""` and `null` for fields they leave unset (godo sends every field), so
//! both count as absent. Malformed JSON is a 400; a missing or mistyped field is a 422 that
//! names the field.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Longest accepted list in a request body (names, tags, volumes, ...).
pub const LIST_LEN_MAX: usize = 1000;

/// A request body that is a JSON object (an empty body reads as `{}`).
#[derive(Clone, Debug, Default)]
pub struct JsonBody {
    fields: Map<String, Value>,
}

impl JsonBody {
    pub fn parse(bytes: &[u8]) -> Result<JsonBody, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody::default());
        }
        match dosim_base::json::decode::<Value>(bytes) {
            Ok(Value::Object(fields)) => Ok(JsonBody { fields }),
            Ok(_) => Err(ApiError::bad_request(
                "error parsing request body: expected a JSON object",
            )),
            Err(e) => Err(ApiError::bad_request(format!(
                "error parsing request body: {e}"
            ))),
        }
    }

    /// The field's value, with `null` and `""` read as absent.
    pub fn get(&self, field: &str) -> Option<&Value> {
        match self.fields.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(value) => Some(value),
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<String>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }

    pub fn req_str(&self, field: &str) -> Result<String, ApiError> {
        self.opt_str(field)?.ok_or_else(|| missing(field))
    }

    pub fn opt_u64(&self, field: &str) -> Result<Option<u64>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| wrong_type(field, "a positive integer")),
            Some(_) => Err(wrong_type(field, "an integer")),
        }
    }

    pub fn req_u64(&self, field: &str) -> Result<u64, ApiError> {
        self.opt_u64(field)?.ok_or_else(|| missing(field))
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(field, "a boolean")),
        }
    }

    /// An array of strings; `null` reads as absent.
    pub fn opt_str_list(&self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        self.get(field)
            .map(|value| str_list(Some(value), field))
            .transpose()
    }

    /// An array of any JSON values; `null` reads as absent.
    pub fn opt_list(&self, field: &str) -> Result<Option<&Vec<Value>>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                check_len(field, items.len())?;
                Ok(Some(items))
            }
            Some(_) => Err(wrong_type(field, "an array")),
        }
    }
}

/// A list of items of one kind anywhere in a body (`value` is the field's, `field` its path for
/// errors); absent or `null` reads as empty.
fn list_of<T>(
    value: Option<&Value>,
    field: &str,
    expected: &str,
    item: impl Fn(&Value) -> Option<T>,
) -> Result<Vec<T>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            check_len(field, items.len())?;
            items
                .iter()
                .map(|v| item(v).ok_or_else(|| wrong_type(field, expected)))
                .collect()
        }
        Some(_) => Err(wrong_type(field, expected)),
    }
}

/// An array of strings anywhere in a body; absent or `null` reads as empty.
pub fn str_list(value: Option<&Value>, field: &str) -> Result<Vec<String>, ApiError> {
    list_of(value, field, "an array of strings", |v| {
        v.as_str().map(str::to_owned)
    })
}

/// An array of Droplet ids anywhere in a body; absent or `null` reads as empty.
pub fn droplet_id_list(value: Option<&Value>, field: &str) -> Result<Vec<u64>, ApiError> {
    list_of(value, field, "an array of Droplet ids", Value::as_u64)
}

/// A resource id from a path that must be a UUID: anything else is a 404, as for an unknown id.
pub fn uuid_path(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::try_parse(raw).map_err(|_| ApiError::not_found())
}

fn check_len(field: &str, len: usize) -> Result<(), ApiError> {
    if len > LIST_LEN_MAX {
        return Err(ApiError::unprocessable(format!(
            "{field} has more than {LIST_LEN_MAX} items"
        )));
    }
    Ok(())
}

pub fn missing(field: &str) -> ApiError {
    ApiError::unprocessable(format!("{field} is required"))
}

pub fn wrong_type(field: &str, expected: &str) -> ApiError {
    ApiError::unprocessable(format!("{field} must be {expected}"))
}

/// The query string as ordered pairs; empty values read as absent.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        let Some(query) = query else {
            return Ok(Params::default());
        };
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|part| !part.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = decode(key).ok_or_else(|| ApiError::bad_request("invalid query string"))?;
            let value =
                decode(value).ok_or_else(|| ApiError::bad_request("invalid query string"))?;
            pairs.push((key, value));
            if pairs.len() > LIST_LEN_MAX {
                return Err(ApiError::bad_request("too many query parameters"));
            }
        }
        Ok(Params { pairs })
    }

    /// The first non-empty value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Params, ApiError> {
        Params::parse(parts.uri.query())
    }
}

/// Percent-decoding with `+` as space, as HTML forms and most clients encode queries.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a query value for the links this server builds.
pub fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
