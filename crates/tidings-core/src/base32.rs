//! Lowercase Crockford base32, used for key secrets, checksums and ids.
//!
//! The alphabet leaves out `i`, `l`, `o` and `u`, so a value read aloud or
//! copied by hand is hard to get subtly wrong.

/// The 32 symbols, in value order.
pub(crate) const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Encodes `bytes` most significant bit first, without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol((buffer >> bits) & 31));
        }
    }
    if bits > 0 {
        out.push(symbol((buffer << (5 - bits)) & 31));
    }
    out
}

/// Encodes the low `symbols * 5` bits of `value`, most significant first.
pub(crate) fn encode_u128(value: u128, symbols: u32) -> String {
    (0..symbols).rev().map(|index| symbol(((value >> (index * 5)) & 31) as u32)).collect()
}

/// Whether `text` uses only symbols of the alphabet.
pub(crate) fn is_valid(text: &str) -> bool {
    text.bytes().all(|byte| ALPHABET.contains(&byte))
}

fn symbol(value: u32) -> char {
    char::from(ALPHABET[value as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_values() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0]), "00");
        assert_eq!(encode(&[0xff]), "zw");
        assert_eq!(encode(&[0xff; 5]), "zzzzzzzz");
        assert_eq!(encode_u128(31, 2), "0z");
    }

    #[test]
    fn output_is_always_valid() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert!(is_valid(&encode(&bytes)));
        assert!(!is_valid("hello"));
    }
}
