//! S3's XML: writing responses and reading the few request bodies S3 takes (delete lists, part lists, versioning, tagging).
//!
//! The request bodies are flat lists of simple elements, so a small reader suffices: it finds
//! elements by name, rejects markup it does not understand, and decodes the five predefined entities.

use std::fmt::{Display, Write as _};

use crate::error::S3Error;

/// S3's namespace, on the root element of every response document.
pub(crate) const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// A response document being written: `<Root xmlns="…">`, its elements in order, then `</Root>`.
pub(crate) struct Document {
    out: String,
    root: &'static str,
}

impl Document {
    /// Opens the root element, in S3's namespace.
    pub(crate) fn new(root: &'static str) -> Document {
        Document {
            out: format!("<{root} xmlns=\"{NS}\">"),
            root,
        }
    }

    /// `<name>`, whose children follow until [`Document::close`].
    pub(crate) fn open(&mut self, name: &str) -> &mut Document {
        let _ = write!(self.out, "<{name}>");
        self
    }

    /// `</name>`.
    pub(crate) fn close(&mut self, name: &str) -> &mut Document {
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// `<name>text</name>`, the text escaped.
    pub(crate) fn text(&mut self, name: &str, text: &str) -> &mut Document {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(text));
        self
    }

    /// `<name>value</name>` for a value that is never markup: a number, a boolean, a timestamp, an
    /// error code, a token in base64.
    pub(crate) fn value(&mut self, name: &str, value: impl Display) -> &mut Document {
        let _ = write!(self.out, "<{name}>{value}</{name}>");
        self
    }

    /// `<ETag>"etag"</ETag>`, with the quotes S3 puts around an ETag, escaped.
    pub(crate) fn etag(&mut self, etag: &str) -> &mut Document {
        let _ = write!(self.out, "<ETag>&quot;{}&quot;</ETag>", escape(etag));
        self
    }

    /// `<Owner>`: the owning account's fingerprint as its id and its display name.
    pub(crate) fn owner(&mut self, owner: &str) -> &mut Document {
        let owner = escape(owner);
        let _ = write!(
            self.out,
            "<Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner>"
        );
        self
    }

    /// Closes the root element; the document's text.
    pub(crate) fn finish(mut self) -> String {
        let _ = write!(self.out, "</{}>", self.root);
        self.out
    }
}

/// Escapes text for an element's content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> Result<String, S3Error> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').ok_or_else(S3Error::malformed_xml)? + at;
        let entity = &rest[at + 1..end];
        match entity {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => {
                let code = entity
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32)
                    .ok_or_else(S3Error::malformed_xml)?;
                out.push(code);
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The contents of every `<name>…</name>` (or `<name xmlns…>`) in `xml`, in order, not nested in one another.
pub fn elements<'a>(xml: &'a str, name: &str) -> Result<Vec<&'a str>, S3Error> {
    let mut out = Vec::new();
    let mut rest = xml;
    let close = format!("</{name}>");
    while let Some(start) = find_open(rest, name) {
        let (open_end, self_closing) = {
            let end = rest[start..].find('>').ok_or_else(S3Error::malformed_xml)? + start;
            (end, rest[..end].ends_with('/'))
        };
        if self_closing {
            out.push("");
            rest = &rest[open_end + 1..];
            continue;
        }
        let body_start = open_end + 1;
        let end = rest[body_start..]
            .find(&close)
            .ok_or_else(S3Error::malformed_xml)?
            + body_start;
        out.push(&rest[body_start..end]);
        rest = &rest[end + close.len()..];
    }
    Ok(out)
}

fn find_open(xml: &str, name: &str) -> Option<usize> {
    let pattern = format!("<{name}");
    let mut from = 0;
    while let Some(at) = xml[from..].find(&pattern) {
        let at = at + from;
        let next = xml.as_bytes().get(at + pattern.len()).copied();
        if matches!(next, Some(b'>' | b' ' | b'/' | b'\t' | b'\n' | b'\r')) {
            return Some(at);
        }
        from = at + pattern.len();
    }
    None
}

/// The text of the single `<name>` element, unescaped, if present.
pub fn text(xml: &str, name: &str) -> Result<Option<String>, S3Error> {
    match elements(xml, name)?.first() {
        Some(raw) => Ok(Some(unescape(raw.trim_matches(['\n', '\r']))?)),
        None => Ok(None),
    }
}

/// The error body S3 sends.
pub fn error_body(
    code: &str,
    message: &str,
    resource: &str,
    request_id: &str,
    host_id: &str,
) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId><HostId>{}</HostId></Error>",
        escape(code),
        escape(message),
        escape(resource),
        escape(request_id),
        escape(host_id)
    )
}

/// S3's timestamp in listings: `2026-01-01T00:00:05.000Z`.
pub fn iso8601(time: dosim_base::SimTime) -> String {
    let text = time.rfc3339();
    format!("{}.{:03}Z", text.trim_end_matches('Z'), time.0 % 1000)
}
