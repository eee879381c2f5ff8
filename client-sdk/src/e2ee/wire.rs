//! Writer and reader for the fixed binary layouts of the E2E construction,
//! so two encoders cannot disagree about where one field ends (never JSON
//! under a signature or MAC). Conventions: docs/e2ee.md §1.1 and §1.6.

use sha2::{Digest, Sha256};

/// Appends fields in the fixed layout.
#[derive(Debug, Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    /// A writer that starts with `label` (not length-prefixed, docs/e2ee.md
    /// §1.2).
    pub(crate) fn with_label(label: &[u8]) -> Self {
        let mut w = Self(Vec::with_capacity(128));
        w.0.extend_from_slice(label);
        w
    }

    /// Raw bytes (a fixed-width field).
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }

    /// A length-prefixed (u16, big-endian) field. Callers pass identifiers
    /// (at most 128 bytes) or bounded fields; longer input is truncated at
    /// 65535 bytes rather than wrapping the prefix.
    pub(crate) fn var(&mut self, b: &[u8]) -> &mut Self {
        let b = &b[..b.len().min(u16::MAX as usize)];
        self.0.extend_from_slice(&(b.len() as u16).to_be_bytes());
        self.0.extend_from_slice(b);
        self
    }

    /// 8 bytes, big-endian.
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// One byte.
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    /// The bytes written.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads fields of the fixed layout; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Reader<'a>(&'a [u8]);

/// The input ended early or had bytes left over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

impl<'a> Reader<'a> {
    /// A reader at the start of `b`.
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self(b)
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        if self.0.len() < n {
            return Err(Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// The next `N` bytes, as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    /// 2 bytes, big-endian.
    pub(crate) fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// 8 bytes, big-endian.
    pub(crate) fn u64(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A `len16`-prefixed field, without its prefix.
    pub(crate) fn var(&mut self) -> Result<&'a [u8], Truncated> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    /// Exactly `label` (a wrong label is [`Truncated`] too).
    pub(crate) fn label(&mut self, label: &[u8]) -> Result<(), Truncated> {
        if self.take(label.len())? == label {
            Ok(())
        } else {
            Err(Truncated)
        }
    }

    /// Everything not read yet (a last "rest" field, docs/e2ee.md §1.6).
    pub(crate) fn rest(self) -> &'a [u8] {
        self.0
    }

    /// Ok only if everything was read (no trailing bytes).
    pub(crate) fn end(self) -> Result<(), Truncated> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Truncated)
        }
    }
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn round_trip_and_bounds() {
        let mut w = Writer::with_label(b"L");
        w.var(b"abc").u64(7).u8(1).bytes(&[9; 4]);
        let b = w.finish();
        let mut r = Reader::new(&b);
        r.label(b"L").unwrap();
        assert_eq!(r.var().unwrap(), b"abc");
        assert_eq!(r.u64().unwrap(), 7);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.array::<4>().unwrap(), [9; 4]);
        r.end().unwrap();
        let mut short = Reader::new(&b[..5]);
        short.label(b"L").unwrap();
        assert_eq!(short.var(), Err(Truncated));
    }
}
