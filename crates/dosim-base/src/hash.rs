//! FNV-1a: a 64-bit hash that is the same in every process, on every platform and with every
//! toolchain, unlike std's `DefaultHasher`. Trace hashes, account fingerprints and per-cluster
//! seeds are built on it, so its values must never change.

/// A 64-bit FNV-1a hasher.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// Feeds bytes into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// The FNV-1a hash of some bytes.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv1a::default();
    hasher.write(bytes);
    hasher.finish()
}

/// The FNV-1a hash of a text.
pub fn hash_text(text: &str) -> u64 {
    hash_bytes(text.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        // The published FNV-1a test vectors: the empty string and "a".
        assert_eq!(super::hash_text(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::hash_text("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
