//! A quick read of the response bodies the API writes, for their summaries.
//!
//! serde_json reads a body through its visitors, checking each value it skips as it goes; for a
//! droplet (1.4 KB, sixty strings) that was most of what recording an exchange cost. The API's
//! bodies are serde_json's compact output: plain ASCII strings, plain integers as ids. This
//! reader takes exactly that subset, checking it as strictly as serde_json would, and builds the
//! same [`Envelope`] the serde path builds. Anything outside the subset (an escape, a byte
//! outside ASCII, a control character, a number it would have to convert, deep nesting,
//! anything malformed) makes it let go of the whole body, and the serde path reads it instead:
//! so a summary is the same whichever path read it, errors included.

use std::collections::BTreeMap;

use super::{Envelope, Fields, Member, Scalar};

/// Deeper than this, the serde path reads the body (serde_json's own limit is 128).
const DEPTH_MAX: usize = 100;

/// The body is outside what this reader takes; the serde path reads it.
struct LetGo;

type Read<T> = Result<T, LetGo>;

/// The envelope of `body`, or `None` when the serde path must read it.
pub(super) fn envelope(body: &[u8]) -> Option<Envelope> {
    let mut reader = Reader { bytes: body, at: 0 };
    let envelope = reader.envelope().ok()?;
    reader.whitespace();
    (reader.at == body.len()).then_some(envelope)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Skips JSON's whitespace: space, tab, line feed, carriage return.
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Read<u8> {
        self.whitespace();
        self.bytes.get(self.at).copied().ok_or(LetGo)
    }

    fn expect(&mut self, byte: u8) -> Read<()> {
        if self.peek()? != byte {
            return Err(LetGo);
        }
        self.at += 1;
        Ok(())
    }

    /// After an object's member or an array's item: `true` when another follows the comma,
    /// `false` at the closing `close`.
    fn more(&mut self, close: u8) -> Read<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Ok(true)
            }
            byte if byte == close => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(LetGo),
        }
    }

    /// Consumes `open` and says whether the container is empty (its `close` consumed too).
    fn open(&mut self, open: u8, close: u8) -> Read<bool> {
        self.expect(open)?;
        if self.peek()? == close {
            self.at += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A string with neither escapes nor control characters, all ASCII; its bytes, unquoted.
    fn string(&mut self) -> Read<&'a [u8]> {
        self.expect(b'"')?;
        let rest = &self.bytes[self.at..];
        let end = memchr::memchr2(b'"', b'\\', rest).ok_or(LetGo)?;
        if rest[end] != b'"' {
            return Err(LetGo);
        }
        let text = &rest[..end];
        // Every byte checked, without stopping at the first bad one, so that the loop runs
        // over many bytes at a time.
        let outside = text.iter().fold(0u8, |outside, &byte| {
            outside | u8::from(!(0x20..0x80).contains(&byte))
        });
        if outside != 0 {
            return Err(LetGo);
        }
        self.at += end + 1;
        Ok(text)
    }

    /// [`Reader::string`], as text to keep.
    fn text(&mut self) -> Read<String> {
        let bytes = self.string()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| LetGo)
    }

    /// A number, checked against JSON's grammar; its text when it is a non-negative integer of
    /// at most 18 digits, which serde_json reads as a `u64` whose text is the same digits.
    fn number(&mut self) -> Read<Option<&'a str>> {
        self.whitespace();
        let start = self.at;
        let digits = |reader: &mut Reader<'_>| {
            let from = reader.at;
            while reader.bytes.get(reader.at).is_some_and(u8::is_ascii_digit) {
                reader.at += 1;
            }
            reader.at - from
        };
        let negative = self.bytes.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let leading_zero = self.bytes.get(self.at) == Some(&b'0');
        let integer = digits(self);
        if integer == 0 || leading_zero && integer > 1 {
            return Err(LetGo);
        }
        let mut plain = !negative && integer <= 18;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(LetGo);
            }
            plain = false;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(LetGo);
            }
            plain = false;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).map_err(|_| LetGo)?;
        Ok(plain.then_some(text))
    }

    fn literal(&mut self, word: &[u8]) -> Read<()> {
        self.whitespace();
        if !self.bytes[self.at..].starts_with(word) {
            return Err(LetGo);
        }
        self.at += word.len();
        Ok(())
    }

    /// Checks and skips any value, as serde_json skips what it is not asked to build: numbers
    /// are checked, not converted.
    fn skip(&mut self, depth: usize) -> Read<()> {
        if depth > DEPTH_MAX {
            return Err(LetGo);
        }
        match self.peek()? {
            b'{' => {
                if self.open(b'{', b'}')? {
                    return Ok(());
                }
                loop {
                    self.string()?;
                    self.expect(b':')?;
                    self.skip(depth + 1)?;
                    if !self.more(b'}')? {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                if self.open(b'[', b']')? {
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.more(b']')? {
                        return Ok(());
                    }
                }
            }
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => Err(LetGo),
        }
    }

    /// A value read as a [`Scalar`]: strings and plain integers kept, `true`, `false`, `null`
    /// and containers as `Other`. A number serde_json would convert lets go.
    fn scalar(&mut self, depth: usize) -> Read<Scalar> {
        match self.peek()? {
            b'"' => Ok(Scalar::Text(self.text()?)),
            b'-' | b'0'..=b'9' => match self.number()? {
                Some(text) => Ok(Scalar::Number(text.to_owned())),
                None => Err(LetGo),
            },
            _ => self.skip(depth).map(|()| Scalar::Other),
        }
    }

    /// `volume_ids`: its items when it is an array, nothing otherwise.
    fn scalar_list(&mut self, depth: usize) -> Read<Vec<Scalar>> {
        if self.peek()? != b'[' {
            return self.scalar(depth).map(|_| Vec::new());
        }
        let mut items = Vec::new();
        if self.open(b'[', b']')? {
            return Ok(items);
        }
        loop {
            items.push(self.scalar(depth + 1)?);
            if !self.more(b']')? {
                return Ok(items);
            }
        }
    }

    /// A resource object's fields; the last of repeated keys wins, as in the serde path.
    fn fields(&mut self, depth: usize) -> Read<Fields> {
        let mut fields = Fields::default();
        if self.open(b'{', b'}')? {
            return Ok(fields);
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            match key {
                b"id" => fields.id = Some(self.scalar(depth + 1)?),
                b"ip" => fields.ip = Some(self.scalar(depth + 1)?),
                b"status" => fields.status = Some(self.scalar(depth + 1)?),
                b"volume_ids" => fields.volume_ids = self.scalar_list(depth + 1)?,
                _ => self.skip(depth + 1)?,
            }
            if !self.more(b'}')? {
                return Ok(fields);
            }
        }
    }

    /// An item of a listed member: its fields when it is an object.
    fn item(&mut self, depth: usize) -> Read<Option<Fields>> {
        match self.peek()? {
            b'{' => self.fields(depth).map(Some),
            b'[' => self.skip(depth).map(|()| None),
            _ => self.scalar(depth).map(|_| None),
        }
    }

    fn member(&mut self, depth: usize) -> Read<Member> {
        match self.peek()? {
            b'{' => self.fields(depth).map(Member::Object),
            b'[' => {
                let mut items = Vec::new();
                if self.open(b'[', b']')? {
                    return Ok(Member::Array(items));
                }
                loop {
                    items.push(self.item(depth + 1)?);
                    if !self.more(b']')? {
                        return Ok(Member::Array(items));
                    }
                }
            }
            _ => self.scalar(depth).map(Member::Scalar),
        }
    }

    fn envelope(&mut self) -> Read<Envelope> {
        match self.peek()? {
            b'{' => {
                let mut members = BTreeMap::new();
                if self.open(b'{', b'}')? {
                    return Ok(Envelope::Object(members));
                }
                loop {
                    let key = self.text()?;
                    self.expect(b':')?;
                    let member = self.member(1)?;
                    members.insert(key, member);
                    if !self.more(b'}')? {
                        return Ok(Envelope::Object(members));
                    }
                }
            }
            b'[' => self.skip(0).map(|()| Envelope::Other),
            _ => self.scalar(0).map(|_| Envelope::Other),
        }
    }
}
